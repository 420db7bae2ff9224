"""The async engine, one transaction per request, and column types shared by all domains.

The request's transaction is the only one a request has (`get_session`): services flush,
never commit. Two mechanisms shape it, so that no domain and no page handles a savepoint:
- a use case is `atomic`: a refusal (ServiceError) undoes its work and leaves the request's
  transaction usable, for a page to render the refusal from it;
- `keep` marks rows that outlive a refusal (a refused redemption, a failed login): the
  request's transaction commits them even though it ends in an error.
"""

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Path, Request
from sqlalchemy import DateTime, event
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from voucher_service.core.config import Settings
from voucher_service.core.errors import ServiceError

P = ParamSpec("P")
T = TypeVar("T")
_KEEP = "keep_through_refusal"

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both engines (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(kind: type[Enum]) -> SqlEnum:
    """An enum stored as its values in a VARCHAR, the same on both engines."""
    return SqlEnum(
        kind,
        native_enum=False,
        length=30,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and write-locking transactions.

    ``BEGIN IMMEDIATE`` takes SQLite's write lock when a transaction starts, so that two
    transactions never both read and then fail to upgrade to a write: they queue instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.database_url, connect_args={"timeout": 30}, hide_parameters=True
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        hide_parameters=True,  # error messages and logs never repeat a token or a password
    )


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        engine = create_engine(settings)
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))


def atomic(
    use_case: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[T]]:
    """All of the use case's work or none: it runs in a savepoint, which a refusal rolls back
    while the request's transaction goes on (to render the refusal, or keep a record of it).
    Locks that must outlive the refusal are taken before, outside the use case."""

    @functools.wraps(use_case)
    async def run(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async with session.begin_nested():
            return await use_case(session, *args, **kwargs)

    return run


def keep(session: AsyncSession, *rows: SQLModel) -> None:
    """Write these rows in the request's transaction and commit it even if the request ends
    in a refusal. Call it after the refused work was undone (outside an `atomic` use case),
    while the locks that decided the refusal are still held."""
    session.add_all(rows)
    session.info[_KEEP] = True


def keeps(session: AsyncSession) -> bool:
    """Whether `keep` was called since the last answer; asking forgets it."""
    return bool(session.info.pop(_KEEP, False))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the endpoint returns, else rolled back
    (but for the rows kept through a refusal)."""
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        try:
            yield session
        except ServiceError:
            await (session.commit() if keeps(session) else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
# The same transaction, kept open until a streamed response has been sent.
StreamSession = Annotated[AsyncSession, Depends(get_session)]

# A transaction of its own, for work done after the answer is sent (a background task).
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def get_transaction(request: Request) -> Transaction:
    database: Database = request.app.state.database

    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with database.sessionmaker() as session, session.begin():
            yield session

    return transaction


AppTransaction = Annotated[Transaction, Depends(get_transaction)]

# A row id in a URL: positive and within a 32-bit INTEGER on every engine.
EntityId = Annotated[int, Path(ge=1, le=2_147_483_647)]
