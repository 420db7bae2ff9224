"""Login throttling under contention, through a real server and real connections: a burst
of wrong passwords on one account gets no more evaluations than the limit allows."""

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from tests.fixtures.factories import create_user
from tests.fixtures.servers import LiveServer, serve
from voucher_service.core.auth.models import LoginFailure, Role
from voucher_service.core.db import Database

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

# Each test speaks from a loopback address of its own, so that no other test's failures
# (the live servers share the session's database) count against its address.
_addresses = itertools.count(11)


@pytest.fixture(scope="module")
async def server(database: Database) -> AsyncIterator[LiveServer]:
    url = database.engine.url.render_as_string(hide_password=False)
    async with serve(url, workers=2) as live:
        yield live


async def fire_logins(server: LiveServer, email: str, attempts: int) -> list[httpx.Response]:
    transport = httpx.AsyncHTTPTransport(
        local_address=f"127.0.0.{next(_addresses)}",
        limits=httpx.Limits(max_connections=attempts, max_keepalive_connections=0),
    )
    form = {"username": email, "password": "a wrong password"}
    async with httpx.AsyncClient(base_url=server.url, transport=transport, timeout=120) as client:
        return await asyncio.gather(
            *(client.post("/api/v1/auth/token", data=form) for _ in range(attempts))
        )


async def failures_of(database: Database, email: str) -> int:
    async with database.sessionmaker() as session:
        query = select(func.count()).where(col(LoginFailure.email) == email)
        return int((await session.execute(query)).scalar_one())


class TestLoginRace:
    async def test_sixty_wrong_passwords_at_once_are_evaluated_five_times(
        self, server: LiveServer, database: Database
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            user = await create_user(session, Role.admin)
        responses = await fire_logins(server, user.email, 60)
        evaluated = await failures_of(database, user.email)
        print("login attempts evaluated:", evaluated)
        assert Counter(r.status_code for r in responses) == {401: 5, 429: 55}
        assert evaluated == 5
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.headers["content-type"] == "application/problem+json"
        assert 0 < int(refused.headers["retry-after"]) <= 60

    async def test_an_unknown_email_is_throttled_the_same(
        self, server: LiveServer, database: Database
    ) -> None:
        responses = await fire_logins(server, "nobody-races@example.fr", 60)
        assert Counter(r.status_code for r in responses) == {401: 5, 429: 55}
        assert await failures_of(database, "nobody-races@example.fr") == 5
