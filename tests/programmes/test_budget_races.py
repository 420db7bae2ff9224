"""Lowering a programme's budget while approvals run, through `voucher-service serve
--workers 2` and real connections: a decrease below what is committed is 409
`budget_below_committed` (it used to be a 500, the check constraint firing), an approval
beyond the envelope is 409 `budget_exhausted`, and committed never exceeds the budget.

Each round: a programme with a budget of APPLICATIONS cheques, its APPLICATIONS eligible
applications approved one by one while DECREASES budget decreases are sent among them.
ROUNDS rounds, ROUNDS * (APPLICATIONS + DECREASES) = 320 requests per engine. Before the
decrease was decided by the database, a PostgreSQL run found 43 defects (500 answers); after,
runs on both engines found 0 defects.
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
APPLICATIONS = 10
DECREASES = (8, 6, 5, 4, 3, 2)  # budgets, in cheques
CHEQUE = 200_000
EXPECTED = {
    "approve": {(200, None), (409, "budget_exhausted")},
    "decrease": {(200, None), (409, "budget_below_committed")},
}


def outcome(answer: httpx.Response) -> tuple[int, str | None]:
    return answer.status_code, answer.json().get("code") if answer.status_code != 200 else None


def describe(answer: httpx.Response | BaseException) -> str:
    if isinstance(answer, BaseException):
        return f"no answer ({answer!r})"
    return f"{answer.status_code} {answer.text[:200]}"


async def one_round(
    client: httpx.AsyncClient, database: Database, headers: dict[str, str]
) -> list[str]:
    """Approvals and budget decreases at once on one programme; what went wrong."""
    async with committed_programme(database, budget_cents=APPLICATIONS * CHEQUE) as programme:
        ids = [
            (await committed_application(database, programme, ApplicationStatus.eligible)).id
            for _ in range(APPLICATIONS)
        ]
        approvals = [client.post(f"/api/v1/applications/{i}/approve", headers=headers) for i in ids]
        decreases = [
            client.patch(
                f"/api/v1/programmes/{programme.id}",
                json={"budget_cents": cheques * CHEQUE},
                headers=headers,
            )
            for cheques in DECREASES
        ]
        # Interleaved, so that decreases land while approvals are running.
        requests = [r for pair in zip(approvals, decreases, strict=False) for r in pair]
        answers = await asyncio.gather(
            *requests, *approvals[len(decreases) :], return_exceptions=True
        )
    kinds = ["approve", "decrease"] * len(decreases) + ["approve"] * (APPLICATIONS - len(decreases))
    defects = [
        f"{kind}: {describe(answer)}"
        for kind, answer in zip(kinds, answers, strict=True)
        if isinstance(answer, BaseException) or outcome(answer) not in EXPECTED[kind]
    ]
    return defects + await envelope_defects(database, programme, CHEQUE)


async def test_budget_decreases_racing_approvals_are_409_never_500(
    two_workers: LiveServer, database: Database, settings: Settings
) -> None:
    async with database.sessionmaker() as session, session.begin():
        headers = bearer(settings, await create_user(session, Role.admin))
    defects: list[str] = []
    async with httpx.AsyncClient(base_url=two_workers.url, timeout=60) as client:
        for _ in range(ROUNDS):
            defects += await one_round(client, database, headers)
    requests = ROUNDS * (APPLICATIONS + len(DECREASES))
    figures = f"{ROUNDS} rounds, {requests} requests, {len(defects)} defects"
    print(figures)
    assert defects == [], f"{figures}: {defects[:10]}"
