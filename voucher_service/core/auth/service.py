"""Accounts: creation, and authentication slowed down after repeated failures."""

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from voucher_service.core import audit
from voucher_service.core.auth.models import LoginFailure, Role, User
from voucher_service.core.auth.tokens import hash_password, verify_password
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.errors import Conflict, InvalidCredentials, TooManyRequests


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


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    """The user's credentials changed: every path that sets a password comes here."""
    user.password_hash = hash_password(password)
    await session.flush()


async def count_since(
    session: AsyncSession, column: Mapped[str], value: str, at: Mapped[datetime], since: datetime
) -> int:
    """How many rows of a log (failed logins, reset requests) have this value since then."""
    query = select(func.count()).where(column == value, at >= since)
    return int((await session.execute(query)).scalar_one())


async def authenticate(
    session: AsyncSession, settings: Settings, email: str, password: str, address: str
) -> User:
    """The active user with these credentials; a failure is recorded and committed."""
    email = email.strip().lower()
    window = timedelta(minutes=settings.login_window_minutes)
    since = utcnow() - window
    at = col(LoginFailure.occurred_at)
    by_account = await count_since(session, col(LoginFailure.email), email, at, since)
    by_address = await count_since(session, col(LoginFailure.address), address, at, since)
    if by_account >= settings.login_max_failures or by_address >= 4 * settings.login_max_failures:
        raise TooManyRequests(
            "Trop de tentatives de connexion échouées. Réessayez plus tard.",
            retry_after=int(window.total_seconds()),
        )
    user = await get_by_email(session, email)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        session.add(LoginFailure(email=email, address=address))
        await session.commit()  # the failed attempt must outlive the error response
        raise InvalidCredentials()
    return user
