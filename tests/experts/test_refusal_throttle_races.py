"""The refused-redemption throttle under contention, through a real two-process server: a
burst of refused redemptions by one expert gets no more evaluations than the limit."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from experts.models import RedemptionAttempt
from tests.fixtures.factories import bearer, create_expert
from tests.fixtures.servers import LiveServer, serve
from voucher_service.core.auth.models import User
from voucher_service.core.auth.tokens import issue_token
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
BURST = 60


@pytest.fixture(scope="module")
async def server(database: Database) -> AsyncIterator[LiveServer]:
    async with serve(database.engine.url.render_as_string(hide_password=False), workers=2) as live:
        yield live


async def seed_expert(database: Database) -> tuple[int, User]:
    async with database.sessionmaker() as session, session.begin():
        expert = await create_expert(session)
        user = await session.get(User, expert.user_id)
    assert expert.id is not None and user is not None
    return expert.id, user


async def evaluated(database: Database, expert_id: int) -> int:
    async with database.sessionmaker() as session:
        query = select(func.count()).where(col(RedemptionAttempt.expert_id) == expert_id)
        return int((await session.execute(query)).scalar_one())


def client_for(server: LiveServer, **options: object) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=0)
    return httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120, **options)  # type: ignore[arg-type]


def check_burst(responses: list[httpx.Response], settings: Settings, refused_status: int) -> None:
    most = settings.redemption_max_failures
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {refused_status: most, 429: BURST - most}, statuses
    slowed = next(r for r in responses if r.status_code == 429)
    window = timedelta(minutes=settings.redemption_failure_window_minutes).total_seconds()
    assert window - 30 < int(slowed.headers["retry-after"]) <= window


class TestRefusalBurst:
    async def test_through_the_api(
        self, server: LiveServer, database: Database, settings: Settings
    ) -> None:
        expert_id, user = await seed_expert(database)
        body = {"coaching_date": paris_today().isoformat(), "invoice_reference": "FAC-RACE"}
        async with client_for(server, headers=bearer(settings, user)) as client:
            responses = await asyncio.gather(
                *(
                    client.post("/api/v1/redemptions", json={**body, "token": f"MCD-BAD-{n}"})
                    for n in range(BURST)
                )
            )
        count = await evaluated(database, expert_id)
        print("API refusals evaluated:", count)
        check_burst(responses, settings, 422)
        assert count == settings.redemption_max_failures

    async def test_through_the_page(
        self, server: LiveServer, database: Database, settings: Settings
    ) -> None:
        expert_id, user = await seed_expert(database)
        assert user.id is not None
        session_token = issue_token(settings, user, timedelta(hours=1), "session")
        async with client_for(server, cookies={"mcd_session": session_token}) as client:
            form = await client.get("/login")
            csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
            fields = {
                "amount": "100,00",
                "coaching_date": paris_today().isoformat(),
                "invoice_reference": "FAC-RACE",
                "csrf_token": csrf,
            }
            responses = await asyncio.gather(
                *(client.post(f"/r/MCD-BAD-{n}", data=fields) for n in range(BURST))
            )
        count = await evaluated(database, expert_id)
        print("page refusals evaluated:", count)
        check_burst(responses, settings, 422)
        assert count == settings.redemption_max_failures
