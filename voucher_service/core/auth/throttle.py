"""When a login may be tried. Failures are counted per account from one address, per
address, and per account from everywhere; each limit lets a number of failures through in
the window, then asks for a delay after the latest one that doubles with each further
failure. The account-wide limit only slows down (its delay never grows), and not at all
from an address the account logged in from recently. Counting and deciding happen under a
lock on the account and on the address, held until the attempt is recorded."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.core import db
from voucher_service.core.auth.models import LoginFailure, LoginSuccess
from voucher_service.core.clock import seconds_until, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.errors import TooManyRequests

ADDRESS_FACTOR = 4  # an address may fail this many times the limit of one account
ACCOUNT_FACTOR = 4  # and an account from all addresses together
TRUSTED_FOR = timedelta(days=30)
LONGEST_DOUBLING = 20  # 2**20 delays are longer than any window


@dataclass(frozen=True)
class Failures:
    count: int
    latest: datetime | None


@dataclass(frozen=True)
class Limit:
    free: int  # failures allowed in the window before any delay
    first: timedelta  # the delay after the first failure beyond them
    longest: timedelta

    def open_at(self, failures: Failures) -> datetime | None:
        """When this limit lets the next attempt through; None while it is not reached."""
        if failures.count < self.free or failures.latest is None:
            return None
        doublings = min(failures.count - self.free, LONGEST_DOUBLING)
        return failures.latest + min(self.first * (1 << doublings), self.longest)


async def _lock(session: AsyncSession, email: str, address: str) -> None:
    """Queue the attempts on this account, then on this address (always in that order, so
    that two attempts never wait for each other)."""
    await queue_on(session, f"login-account:{email}", f"login-address:{address}")


async def queue_on(session: AsyncSession, *keys: str) -> None:
    """Take a lock on each key, in that order, until the transaction ends, so that the
    requests counted under the same key are counted one after the other. SQLite needs
    none: its write lock, taken when a transaction begins, already queues them."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in keys:
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def _count(condition: ColumnElement[bool]) -> ScalarSelect[int]:
    return select(func.count()).where(condition).scalar_subquery()


def _latest(condition: ColumnElement[bool]) -> ScalarSelect[datetime]:
    return select(func.max(col(LoginFailure.occurred_at))).where(condition).scalar_subquery()


@dataclass(frozen=True)
class Recent:
    """The failures in the window: of the account from the address, of the address, of
    the account; and whether the account logged in from the address lately."""

    pair: Failures
    address: Failures
    account: Failures
    trusted: bool


async def _recent(
    session: AsyncSession, settings: Settings, email: str, address: str, now: datetime
) -> Recent:
    recent = col(LoginFailure.occurred_at) >= now - timedelta(minutes=settings.login_window_minutes)
    by_email = and_(recent, col(LoginFailure.email) == email)
    by_address = and_(recent, col(LoginFailure.address) == address)
    by_both = and_(by_email, col(LoginFailure.address) == address)
    trusted = exists().where(
        col(LoginSuccess.email) == email,
        col(LoginSuccess.address) == address,
        col(LoginSuccess.last_login_at) >= now - TRUSTED_FOR,
    )
    query = select(
        _count(by_both), _latest(by_both), _count(by_address), _latest(by_address),
        _count(by_email), _latest(by_email), trusted,
    )  # fmt: skip
    both, both_at, of_address, address_at, of_account, account_at, known = (
        await session.execute(query)
    ).one()
    return Recent(
        pair=Failures(both, both_at),
        address=Failures(of_address, address_at),
        account=Failures(of_account, account_at),
        trusted=known,
    )


async def ensure_may_try(
    session: AsyncSession, settings: Settings, email: str, address: str
) -> None:
    """Raise TooManyRequests, with the remaining delay, when a limit asks to wait."""
    await _lock(session, email, address)
    now = utcnow()
    recent = await _recent(session, settings, email, address, now)
    first = timedelta(seconds=settings.login_delay_seconds)
    window = timedelta(minutes=settings.login_window_minutes)
    most = settings.login_max_failures
    checks = [
        (Limit(most, first, window), recent.pair),
        (Limit(ADDRESS_FACTOR * most, first, window), recent.address),
    ]
    if not recent.trusted:  # from an address the account did not log in from lately
        checks.append((Limit(ACCOUNT_FACTOR * most, first, first), recent.account))
    _refuse_until(max((at for limit, f in checks if (at := limit.open_at(f))), default=now))


def _refuse_until(opens_at: datetime) -> None:
    refuse_until(opens_at, TooManyRequests, "Trop de tentatives de connexion échouées.")


def refuse_until(opens_at: datetime, error: type[TooManyRequests], what: str) -> None:
    """Raise ``error`` saying ``what`` and how long to wait, while ``opens_at`` is ahead."""
    if opens_at > utcnow():
        wait = seconds_until(opens_at)
        raise error(f"{what} Réessayez dans {_in_words(wait)}.", retry_after=wait)


def _in_words(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconde{'s' if seconds > 1 else ''}"
    return f"{-(-seconds // 60)} minutes"


def record_failure(session: AsyncSession, email: str, address: str) -> None:
    """The failed attempt outlives the refusal, written while the throttle's locks are held."""
    db.keep(session, LoginFailure(email=email, address=address))


async def record_success(session: AsyncSession, email: str, address: str) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = (
        dialect.insert(LoginSuccess)
        .values(email=email, address=address, last_login_at=now)
        .on_conflict_do_update(index_elements=["email", "address"], set_={"last_login_at": now})
    )
    await session.execute(statement)
