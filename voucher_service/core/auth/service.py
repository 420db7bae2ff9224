"""Accounts: creation, changes that end every login of the user, and authentication slowed
down after repeated failures."""

import asyncio

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from voucher_service.core import audit
from voucher_service.core.auth import second_factor, throttle
from voucher_service.core.auth.models import Role, User
from voucher_service.core.auth.tokens import hash_password, verify_password
from voucher_service.core.config import Settings
from voucher_service.core.errors import Conflict, InvalidCredentials, NotFound


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Un compte existe déjà avec cette adresse e-mail"


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "Aucun compte avec cette adresse e-mail"


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


async def find(session: AsyncSession, email: str) -> User:
    user = await get_by_email(session, email)
    if user is None:
        raise UserNotFound(f"Aucun compte {email}.")
    return user


async def end_sessions(session: AsyncSession, user: User, reason: str) -> None:
    """Refuse every token and session cookie issued to the user so far, on every device."""
    before = user.session_epoch
    raise_epoch = (  # in SQL, so that concurrent changes each count
        update(User)
        .where(col(User.id) == user.id)
        .values(session_epoch=col(User.session_epoch) + 1)
        .returning(col(User.session_epoch))
        .execution_options(synchronize_session=False)
    )
    set_committed_value(user, "session_epoch", (await session.execute(raise_epoch)).scalar_one())
    audit.record(
        session,
        "user.sessions_ended",
        "user",
        user.id,
        before={"session_epoch": before},
        after={"session_epoch": user.session_epoch, "reason": reason},
    )


async def log_out(session: AsyncSession, user: User) -> None:
    await end_sessions(session, user, "logout")


async def change_password(session: AsyncSession, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    audit.record(session, "user.password_changed", "user", user.id)
    await end_sessions(session, user, "password_changed")


async def change_role(session: AsyncSession, user: User, role: Role) -> None:
    if role is user.role:
        return
    before, user.role = user.role, role
    audit.record(
        session,
        "user.role_changed",
        "user",
        user.id,
        before={"role": before.value},
        after={"role": role.value},
    )
    await end_sessions(session, user, "role_changed")


async def set_active(session: AsyncSession, user: User, active: bool) -> None:
    if active is user.is_active:
        return
    user.is_active = active
    audit.record(session, "user.activated" if active else "user.deactivated", "user", user.id)
    if not active:
        await end_sessions(session, user, "deactivated")


async def check_password(
    session: AsyncSession, settings: Settings, email: str, password: str, address: str
) -> User:
    """The active user with these credentials; a failure is kept through the refusal.
    Whatever the account (unknown, inactive, without a password), one argon2 hash is
    verified, so that the time taken tells nothing of which e-mails have an account."""
    email = email.strip().lower()
    await throttle.ensure_may_try(session, settings, email, address)
    user = await get_by_email(session, email)
    hashed = user.password_hash if user is not None else None
    matches = await asyncio.to_thread(verify_password, hashed, password)
    if user is None or not user.is_active or not matches:
        throttle.record_failure(session, email, address)
        raise InvalidCredentials()
    return user


async def finish_login(
    session: AsyncSession, settings: Settings, user: User, code: str | None, address: str
) -> None:
    """After the password: the second factor's code when the user has one."""
    if user.totp_secret is not None:
        await second_factor.check_login_code(session, settings, user, code, address)
    await throttle.record_success(session, user.email, address)


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    email: str,
    password: str,
    address: str,
    code: str | None = None,
) -> User:
    """A whole login in one step: the password, then the second factor's code if any."""
    user = await check_password(session, settings, email, password, address)
    await finish_login(session, settings, user, code, address)
    return user
