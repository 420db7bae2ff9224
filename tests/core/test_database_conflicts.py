"""A transaction PostgreSQL rolls back to break a deadlock is answered 503
`database_conflict` (problem+json, Retry-After), never a 500.

The deadlock is a real one: the test's own connection holds an application's row while a
bulk approval of that application, holding the programme's row, waits for it; the test
then asks for the programme's row. The approval waited first, so its backend runs the
deadlock check first (one deadlock_timeout after it began to wait, the test joining the
wait well before that) and is the one PostgreSQL rolls back. PostgreSQL only: SQLite takes
its write lock when a transaction begins, so it never deadlocks.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from tests.fixtures.applications import committed_application, committed_programme
from tests.fixtures.databases import fresh_database_url, make_settings
from tests.fixtures.factories import bearer, create_user
from voucher_service.app import create_app
from voucher_service.applications.models import ApplicationStatus
from voucher_service.core import schema
from voucher_service.core.auth.models import Role
from voucher_service.core.db import Database
from voucher_service.core.errors import PROBLEM_JSON

WAIT_SECONDS = 20.0


@pytest.fixture(scope="module")
async def postgres(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    folder: Path = tmp_path_factory.mktemp("conflicts")
    async with fresh_database_url("postgresql", folder) as url:
        database = Database.from_settings(make_settings(url))
        await schema.upgrade(database.engine)
        yield database
        await database.engine.dispose()


async def wait_for_a_lock_wait(database: Database) -> None:
    """Poll until some backend waits for a row lock (the approval), with a deadline."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    deadline = time.monotonic() + WAIT_SECONDS
    async with database.engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = (await watcher.execute(query)).scalar_one()
            await watcher.rollback()  # pg_stat_activity is a snapshot per transaction
            if waiting:
                return
            await asyncio.sleep(0.01)
    raise AssertionError("the approval never waited for the application's row")


async def test_a_deadlock_is_a_503_database_conflict(postgres: Database) -> None:
    settings = make_settings(postgres.engine.url.render_as_string(hide_password=False))
    async with postgres.sessionmaker() as session, session.begin():
        headers = bearer(settings, await create_user(session, Role.admin))
    app = create_app(settings, postgres)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        committed_programme(postgres) as programme,
        AsyncClient(transport=transport, base_url="http://testserver") as client,
        postgres.engine.connect() as rival,
    ):
        application = await committed_application(postgres, programme, ApplicationStatus.eligible)
        await rival.execute(
            text("UPDATE application SET updated_at = updated_at WHERE id = :id"),
            {"id": application.id},
        )
        approval = asyncio.create_task(
            client.post(
                "/api/v1/applications/approve", json={"ids": [application.id]}, headers=headers
            )
        )
        await wait_for_a_lock_wait(postgres)
        await rival.execute(
            text("SELECT id FROM programme WHERE id = :id FOR UPDATE"), {"id": programme.id}
        )
        await rival.rollback()
        answer = await approval
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["code"] == "database_conflict"
    assert answer.headers["Retry-After"] == "5"
