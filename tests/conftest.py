"""Fixtures: each test runs on SQLite and on PostgreSQL, inside a transaction rolled back
at the end; the app under test shares that transaction."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.clock import VARIABLE, shift_clock_if_asked
from tests.fixtures.databases import ENGINES, fresh_database_url, make_settings
from tests.fixtures.servers import LiveServer, serve
from voucher_service.app import create_app
from voucher_service.core import schema
from voucher_service.core.config import Settings
from voucher_service.core.db import Database, Transaction, get_session, get_transaction, keeps
from voucher_service.core.errors import ServiceError

SHIFTED = pytest.StashKey[datetime | None]()

pytest_plugins = ["tests.fixtures.factories", "tests.fixtures.browser", "tests.fixtures.smtp"]

# bench/mutation.py runs pytest several times in one process (mutmut's stats, then each
# mutant): the same test method is then called from a new class instance each time.
hypothesis_settings.register_profile(
    "mutation", suppress_health_check=[HealthCheck.differing_executors]
)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SHIFTED] = shift_clock_if_asked()


def pytest_report_header(config: pytest.Config) -> str:
    start = config.stash.get(SHIFTED, None)
    if start is None:
        return f"clock: real (set {VARIABLE} to run at another hour)"
    return f"clock: shifted by {VARIABLE}, starting at {start.isoformat()}"


@pytest.fixture(scope="session", params=ENGINES)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    folder: Path = tmp_path_factory.mktemp(request.param)
    async with fresh_database_url(request.param, folder) as url:
        database = Database.from_settings(make_settings(url))
        await schema.upgrade(database.engine)
        yield database
        await database.engine.dispose()


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database.engine.url.render_as_string(hide_password=False))


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        async with AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        ) as session:
            yield session
        await transaction.rollback()


@pytest.fixture
def app(settings: Settings, database: Database, session: AsyncSession) -> FastAPI:
    app = create_app(settings, database)

    async def test_session() -> AsyncIterator[AsyncSession]:
        """Each request in a savepoint: a refused request undoes only its own work, never
        what the test set up before it."""
        request = await session.begin_nested()
        try:
            yield session
        except ServiceError:
            if request.is_active:
                await (request.commit() if keeps(session) else request.rollback())
            raise
        except BaseException:
            if request.is_active:
                await request.rollback()
            raise
        keeps(session)  # kept rows or not, a request that ends well commits them
        if request.is_active:
            await request.commit()

    def test_transaction() -> Transaction:
        """Work after the answer in a savepoint of the test's transaction too."""

        @asynccontextmanager
        async def transaction() -> AsyncIterator[AsyncSession]:
            async with session.begin_nested():
                yield session

        return transaction

    app.dependency_overrides[get_session] = test_session
    app.dependency_overrides[get_transaction] = test_transaction
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(params=ENGINES)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own with no schema at all, for migration and CLI tests."""
    async with fresh_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
async def live_server(database: Database) -> AsyncIterator[LiveServer]:
    """The service under uvicorn on the session's database, with real connections.

    Data it sees must be committed: seed through `database.sessionmaker()`, never through
    the rolled-back `session` fixture (on SQLite the two would wait for each other).
    """
    async with serve(database.engine.url.render_as_string(hide_password=False)) as server:
        yield server


@pytest.fixture(scope="module")
async def two_workers(database: Database) -> AsyncIterator[LiveServer]:
    """`voucher-service serve --workers 2` on the session's database, for the race tests:
    two processes, so that concurrent requests really run at the same time."""
    async with serve(database.engine.url.render_as_string(hide_password=False), workers=2) as live:
        yield live
