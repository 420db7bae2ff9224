"""Password reset by e-mail: a one-time link, valid a short time, sent only to an active
account that has a password, while the answer never tells whether the account exists."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from voucher_service.core import audit, db
from voucher_service.core.auth import service
from voucher_service.core.auth.models import PasswordReset, PasswordResetRequest, User
from voucher_service.core.auth.tokens import MAX_LINK_TOKEN_LENGTH, link_token_hash, new_link_token
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.db import Transaction
from voucher_service.core.errors import Gone, TooManyRequests
from voucher_service.core.notify import SERVICE_FOOTER, Notify
from voucher_service.core.roles import ROLE_LABELS

THROTTLE_WINDOW = timedelta(hours=1)
EVENT = "password_reset"
NEW_ACCOUNT_EVENT = "account_created"
NEW_ACCOUNT_LINK = timedelta(days=7)
REQUESTED = (
    "Si un compte actif correspond à cette adresse, un lien pour choisir un nouveau mot de "
    "passe vient de lui être envoyé. Il est valable {minutes} minutes."
)
DONE = "Votre mot de passe est enregistré : connectez-vous."


def requested(settings: Settings) -> str:
    """The answer to every request, whatever the account."""
    return REQUESTED.format(minutes=settings.password_reset_minutes)


class ResetLinkInvalid(Gone):
    code = "reset_link_invalid"
    title = "Ce lien de réinitialisation n'est plus valable"


class TooManyResetRequests(TooManyRequests):
    code = "too_many_reset_requests"
    title = "Trop de demandes de réinitialisation depuis cette adresse"


async def _count_since(
    session: AsyncSession, column: Mapped[str], value: str, at: Mapped[datetime], since: datetime
) -> int:
    """How many reset requests have this value since then."""
    query = select(func.count()).where(column == value, at >= since)
    return int((await session.execute(query)).scalar_one())


async def request_reset(
    session: AsyncSession, settings: Settings, email: str, address: str
) -> "ResetRequest":
    """Record a request for ``email``: the same work whatever the account, and nothing
    more, so that the answer's time tells nothing; its link is mailed after the answer
    (`mail_link`). Over the limit per address: 429, which tells nothing about any
    account."""
    email = email.strip().lower()
    since, at = utcnow() - THROTTLE_WINDOW, col(PasswordResetRequest.requested_at)
    by_address = await _count_since(session, col(PasswordResetRequest.address), address, at, since)
    if by_address >= settings.password_reset_max_per_address:
        raise TooManyResetRequests(
            "Trop de demandes depuis votre adresse. Réessayez dans une heure.",
            retry_after=int(THROTTLE_WINDOW.total_seconds()),
        )
    earlier = await _count_since(session, col(PasswordResetRequest.email), email, at, since)
    session.add(PasswordResetRequest(email=email, address=address))
    await session.flush()
    return ResetRequest(email, address, earlier)


@dataclass(frozen=True)
class ResetRequest:
    """A recorded request, and how many were asked for its e-mail in the window before."""

    email: str
    address: str
    earlier: int


async def mail_link(
    session: AsyncSession, settings: Settings, notify: Notify, asked: ResetRequest
) -> None:
    """The link and its e-mail, when the account may have one and fewer than the limit
    per e-mail were asked before (beyond it nothing is sent, silently). Run after the
    answer, by `mail_link_after_answer`."""
    user = await service.get_by_email(session, asked.email)
    if asked.earlier >= settings.password_reset_max_per_email or not _may_reset(user):
        return
    assert user is not None
    await send_link(session, settings, notify, user, asked.address)


async def send_link(
    session: AsyncSession,
    settings: Settings,
    notify: Notify,
    user: User,
    address: str,
    *,
    new_account: bool = False,
) -> None:
    """Make a one-time link for the user and mail it: a reset link valid
    `MCD_PASSWORD_RESET_MINUTES`, or for a new account, a link to choose a first password
    valid `NEW_ACCOUNT_LINK`."""
    assert user.id is not None
    token, token_hash = new_link_token()
    minutes = settings.password_reset_minutes
    expires_at = utcnow() + (NEW_ACCOUNT_LINK if new_account else timedelta(minutes=minutes))
    session.add(
        PasswordReset(
            user_id=user.id, token_hash=token_hash, expires_at=expires_at, address=address
        )
    )
    data = {
        **SERVICE_FOOTER,
        "reset_url": f"{settings.public_url}/password-reset/{token}",
        "expires_at": expires_at,
        "minutes": minutes,
        "role_label": ROLE_LABELS[user.role],
    }
    await notify(session, NEW_ACCOUNT_EVENT if new_account else EVENT, user.email, data)
    await session.flush()


async def mail_link_after_answer(
    transaction: Transaction, settings: Settings, notify: Notify, asked: ResetRequest
) -> None:
    """`mail_link` in a transaction of its own, once the answer is sent."""
    async with transaction() as session:
        await mail_link(session, settings, notify, asked)


def _may_reset(user: User | None) -> bool:
    """An inactive account, or one that never had a password (an expert not yet invited),
    gets no link."""
    return user is not None and user.is_active and user.password_hash is not None


def _usable(token: str) -> list[ColumnElement[bool]]:
    return [
        col(PasswordReset.token_hash) == link_token_hash(token),
        col(PasswordReset.used_at).is_(None),
        col(PasswordReset.expires_at) > utcnow(),
    ]


async def is_usable(session: AsyncSession, token: str) -> bool:
    """Whether the link may still set a password (the page says so before anything is typed)."""
    if len(token) > MAX_LINK_TOKEN_LENGTH:
        return False
    query = select(col(PasswordReset.id)).where(*_usable(token))
    return (await session.execute(query)).first() is not None


@db.atomic
async def complete_reset(session: AsyncSession, token: str, password: str) -> User:
    """Set the password through an unused, unexpired link, once: the link's row is locked,
    and this and every other pending link of the user are used up."""
    if len(token) > MAX_LINK_TOKEN_LENGTH:
        raise ResetLinkInvalid()
    query = select(PasswordReset).where(*_usable(token)).with_for_update()
    reset = (await session.execute(query)).scalar_one_or_none()
    if reset is None:
        raise ResetLinkInvalid()
    user = await session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise ResetLinkInvalid()
    await session.execute(
        update(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=utcnow())
    )
    await service.change_password(session, user, password)
    audit.record(session, "user.password_reset", "user", user.id)  # no secret, no address
    return user
