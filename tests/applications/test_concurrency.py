"""Approvals race through a real server and real connections: the envelope never
overflows and an application is approved once."""

import asyncio

import httpx

from tests.fixtures.applications import (
    application_body,
    committed_application,
    committed_programme,
)
from tests.fixtures.factories import bearer, create_user
from tests.fixtures.servers import LiveServer
from voucher_service.applications.models import ApplicationStatus
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.programmes.models import Programme

CHEQUE = 200_000


async def admin_headers(database: Database, settings: Settings) -> dict[str, str]:
    async with database.sessionmaker() as session, session.begin():
        return bearer(settings, await create_user(session, Role.admin))


async def approve_all(
    server: LiveServer, headers: dict[str, str], ids: list[int]
) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        return await asyncio.gather(
            *(client.post(f"/api/v1/applications/{i}/approve", headers=headers) for i in ids)
        )


class TestConcurrentApprovals:
    async def test_twenty_approvals_for_ten_cheques(
        self, database: Database, live_server: LiveServer, settings: Settings
    ) -> None:
        headers = await admin_headers(database, settings)
        async with committed_programme(database, budget_cents=10 * CHEQUE) as programme:
            applications = [
                await committed_application(database, programme, ApplicationStatus.eligible)
                for _ in range(20)
            ]
            responses = await approve_all(live_server, headers, [a.id or 0 for a in applications])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 10 + [409] * 10, [r.text for r in responses]
        refused = [r.json()["code"] for r in responses if r.status_code == 409]
        assert set(refused) == {"budget_exhausted"}
        async with database.sessionmaker() as session:
            stored = await session.get(Programme, programme.id)
            assert stored is not None and stored.committed_cents == stored.budget_cents

    async def test_two_administrators_approve_the_same_application(
        self, database: Database, live_server: LiveServer, settings: Settings
    ) -> None:
        first, second = (
            await admin_headers(database, settings),
            await admin_headers(database, settings),
        )
        async with committed_programme(database) as programme:
            application = await committed_application(
                database, programme, ApplicationStatus.eligible
            )
            assert application.id is not None
            responses = await asyncio.gather(
                approve_all(live_server, first, [application.id] * 3),
                approve_all(live_server, second, [application.id] * 3),
            )
        codes = sorted(r.status_code for batch in responses for r in batch)
        assert codes == [200] + [409] * 5
        assert {r.json()["code"] for batch in responses for r in batch if r.status_code == 409} == {
            "invalid_state"
        }
        async with database.sessionmaker() as session:
            stored = await session.get(Programme, programme.id)
            assert stored is not None and stored.committed_cents == CHEQUE


class TestConcurrentSubmissions:
    async def test_the_same_form_sent_five_times_at_once_is_stored_once(
        self, database: Database, live_server: LiveServer
    ) -> None:
        async with committed_programme(database) as programme:
            body = application_body(programme_id=programme.id)
            async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as client:
                responses = await asyncio.gather(
                    *(client.post("/api/v1/applications", json=body) for _ in range(5))
                )
        assert sorted(r.status_code for r in responses) == [201] + [409] * 4
        created = next(r.json() for r in responses if r.status_code == 201)
        for response in responses:
            if response.status_code == 409:
                assert response.json()["code"] == "duplicate_application"
                assert response.json()["status_url"] == created["status_url"]
