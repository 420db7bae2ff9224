"""Accounts: creation, and authentication slowed down after repeated failures."""

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.core import audit
from voucher_service.core.auth import throttle
from voucher_service.core.auth.models import LoginFailure, Role, User
from voucher_service.core.auth.tokens import hash_password, verify_password
from voucher_service.core.config import Settings
from voucher_service.core.errors import Conflict, InvalidCredentials


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Un compte existe déjà avec cette adresse e-mail"


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(col(User.email) == email.strip().lower()))
    return result.scalar_one_or_none()


async def create_user(session: AsyncSession, email: str, role: Role, password: str | None) -> User:
    if await get_by_email(session, email) is not None:
        raise EmailTaken(f"Le compte {email} existe déjà.")
    user = User(
        email=email.strip().lower(),
        role=role,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    await session.flush()
    audit.record(
        session, "user.created", "user", user.id, after={"email": user.email, "role": role.value}
    )
    return user


async def authenticate(
    session: AsyncSession, settings: Settings, email: str, password: str, address: str
) -> User:
    """The active user with these credentials; a failure is recorded and committed.
    Whatever the account (unknown, inactive, without a password), one argon2 hash is
    verified, so that the time taken tells nothing of which e-mails have an account."""
    email = email.strip().lower()
    await throttle.ensure_may_try(session, settings, email, address)
    user = await get_by_email(session, email)
    hashed = user.password_hash if user is not None else None
    matches = await asyncio.to_thread(verify_password, hashed, password)
    if user is None or not user.is_active or not matches:
        session.add(LoginFailure(email=email, address=address))
        await session.commit()  # the failed attempt must outlive the error response
        raise InvalidCredentials()
    await throttle.record_success(session, email, address)
    return user
