"""PostgreSQL restarted in the middle of a redemption load: clients get 503 problem+json,
never a 500 or a hang, the service recovers by itself, and afterwards the successful
redemptions are exactly the redemptions stored, with no cheque over-spent.

The database is a private cluster (tests.fixtures.postgres_cluster), crashed with an
immediate stop and started again on the same port while `voucher-service serve
--workers 2` keeps running. Each cheque is redeemed in two parts (a fixed amount, then the
balance), each part with its own Idempotency-Key and retried with that key after a 503:
a commit whose answer was lost with the connection is then answered by its stored 201,
never taken twice.
"""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from experts.models import Redemption, RedemptionAttempt, RedemptionStatus
from tests.fixtures.databases import make_settings
from tests.fixtures.postgres_cluster import PostgresCluster, private_cluster
from tests.fixtures.servers import serve
from tests.fixtures.vouchers import seed_redemption_load
from voucher_service.core.clock import paris_today
from voucher_service.core.db import Database
from voucher_service.core.errors import PROBLEM_JSON
from voucher_service.vouchers.models import Voucher

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

CHEQUES = 120
CHEQUE_CENTS = 200_000
FIRST_PART_CENTS = 120_000
CLIENTS = 16
CRASH_AFTER = 80  # successful redemptions before the database goes down
OUTAGE_SECONDS = 2.0
REQUEST_TIMEOUT_SECONDS = 10.0  # a request slower than this is a hang
RECOVERY_SECONDS = 15.0
LOAD_DEADLINE_SECONDS = 45.0
RETRY_PAUSE_SECONDS = 0.1


@dataclass
class Target:
    url: str
    headers: dict[str, str]
    tokens: list[str]


@dataclass
class Tally:
    """What the clients saw, and when the database went down and came back."""

    created: list[dict[str, object]] = field(default_factory=list)
    unavailable: int = 0
    failures: list[str] = field(default_factory=list)
    load_over: bool = False
    crashed: bool = False
    restarted_at: float | None = None
    recovered_at: float | None = None

    def succeeded(self, body: dict[str, object]) -> None:
        self.created.append(body)
        if self.restarted_at is not None and self.recovered_at is None:
            self.recovered_at = time.monotonic()


@dataclass
class Stored:
    redemption_ids: list[int]
    spent_by_voucher: dict[int, int]
    vouchers: list[tuple[int, int, int]]  # id, face value, balance
    refusals: int


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture
async def target(cluster: PostgresCluster) -> AsyncIterator[Target]:
    headers, tokens = await seed_redemption_load(cluster.url, CHEQUES, CHEQUE_CENTS)
    async with serve(cluster.url, workers=2) as live:
        yield Target(live.url, headers, tokens)


def body_for(token: str, part: int) -> dict[str, object]:
    body: dict[str, object] = {
        "token": token,
        "coaching_date": paris_today().isoformat(),
        "invoice_reference": f"FAC-RESTART-{part}",
    }
    if part == 1:
        body["amount_cents"] = FIRST_PART_CENTS
    return body  # part 2 takes the balance


def is_unavailable(response: httpx.Response) -> bool:
    """The one acceptable refusal: 503 problem+json saying the database is unavailable."""
    content_type = response.headers.get("content-type", "").split(";")[0]
    if response.status_code != 503 or content_type != PROBLEM_JSON:
        return False
    return bool(response.json().get("code") == "database_unavailable")


async def redeem_part(
    client: httpx.AsyncClient, cheque: tuple[int, str], part: int, tally: Tally, deadline: float
) -> bool:
    """POST until a 201, retrying 503s with the same Idempotency-Key; False on anything
    else (another status, a timeout, a dropped connection, no recovery in time)."""
    number, token = cheque
    headers = {"Idempotency-Key": f"restart-{number}-{part}"}
    while time.monotonic() < deadline:
        try:
            response = await client.post(
                "/api/v1/redemptions", json=body_for(token, part), headers=headers
            )
        except httpx.HTTPError as error:
            tally.failures.append(f"cheque {number} part {part}: {error!r}")
            return False
        if response.status_code == 201:
            tally.succeeded(response.json())
            return True
        if not is_unavailable(response):
            tally.failures.append(
                f"cheque {number} part {part}: {response.status_code} "
                f"{response.headers.get('content-type')} {response.text[:300]}"
            )
            return False
        tally.unavailable += 1
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
    tally.failures.append(f"cheque {number} part {part}: still 503 at the load's deadline")
    return False


async def client_loop(
    client: httpx.AsyncClient,
    queue: asyncio.Queue[tuple[int, str]],
    tally: Tally,
    deadline: float,
) -> None:
    while not queue.empty():
        cheque = queue.get_nowait()
        if await redeem_part(client, cheque, 1, tally, deadline):
            await redeem_part(client, cheque, 2, tally, deadline)


async def restart_midway(cluster: PostgresCluster, tally: Tally) -> None:
    """Crash the database once CRASH_AFTER redemptions succeeded, start it again after
    OUTAGE_SECONDS; the server processes are left alone."""
    while len(tally.created) < CRASH_AFTER:
        if tally.load_over:
            return
        await asyncio.sleep(0.01)
    await asyncio.to_thread(cluster.crash)
    tally.crashed = True
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(cluster.start)
    tally.restarted_at = time.monotonic()


async def run_load(target: Target, cluster: PostgresCluster) -> Tally:
    tally = Tally()
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for cheque in enumerate(target.tokens):
        queue.put_nowait(cheque)
    deadline = time.monotonic() + LOAD_DEADLINE_SECONDS
    async with httpx.AsyncClient(
        base_url=target.url,
        headers=target.headers,
        limits=httpx.Limits(max_connections=CLIENTS),
        timeout=REQUEST_TIMEOUT_SECONDS,
    ) as client:
        restart = asyncio.create_task(restart_midway(cluster, tally))
        await asyncio.gather(*(client_loop(client, queue, tally, deadline) for _ in range(CLIENTS)))
        tally.load_over = True
        await asyncio.wait_for(restart, timeout=OUTAGE_SECONDS + 60)
    return tally


def stored_id(value: int | None) -> int:
    assert value is not None, "a stored row has an id"
    return value


async def read_back(url: str) -> Stored:
    database = Database.from_settings(make_settings(url))
    active = col(Redemption.status) == RedemptionStatus.active
    spent = select(col(Redemption.voucher_id), func.sum(col(Redemption.amount_cents))).where(active)
    vouchers = select(col(Voucher.id), col(Voucher.amount_cents), col(Voucher.balance_cents))
    refusals = select(func.count()).select_from(RedemptionAttempt)
    try:
        async with database.sessionmaker() as session:
            ids = (await session.execute(select(col(Redemption.id)).where(active))).scalars().all()
            by_voucher = (await session.execute(spent.group_by(col(Redemption.voucher_id)))).all()
            voucher_rows = (await session.execute(vouchers)).all()
            refused = (await session.execute(refusals)).scalar_one()
    finally:
        await database.engine.dispose()
    return Stored(
        [stored_id(i) for i in ids],
        {int(v): int(s) for v, s in by_voucher},
        [(stored_id(i), int(a), int(b)) for i, a, b in voucher_rows],
        int(refused),
    )


def assert_not_overspent(stored: Stored) -> None:
    assert len(stored.vouchers) == CHEQUES
    for voucher_id, face_value, balance in stored.vouchers:
        spent = stored.spent_by_voucher.get(voucher_id, 0)
        assert 0 <= balance <= face_value, (voucher_id, balance)
        assert spent <= face_value, (voucher_id, spent)
        assert spent + balance == face_value, (voucher_id, spent, balance)


def assert_answers_consistent(created: list[dict[str, object]]) -> None:
    """Each cheque answered once per part: 1 200 € leaving 800 €, then the 800 €."""
    parts = Counter((body["amount_cents"], body["voucher_balance_cents"]) for body in created)
    rest = CHEQUE_CENTS - FIRST_PART_CENTS
    assert parts == {(FIRST_PART_CENTS, rest): CHEQUES, (rest, 0): CHEQUES}
    per_cheque = Counter(str(body["voucher_code"]) for body in created)
    assert set(per_cheque.values()) == {2}


async def test_postgres_restart_under_redemption_load(
    cluster: PostgresCluster, target: Target
) -> None:
    tally = await run_load(target, cluster)

    assert tally.failures == []  # every answer was a 201 or a 503 problem, none too slow
    assert tally.crashed and tally.unavailable > 0, "the clients never saw the outage"
    assert tally.restarted_at is not None and tally.recovered_at is not None
    assert tally.recovered_at - tally.restarted_at < RECOVERY_SECONDS
    assert_answers_consistent(tally.created)

    stored = await read_back(cluster.url)
    answered_ids = sorted(int(str(body["id"])) for body in tally.created)
    assert answered_ids == sorted(stored.redemption_ids)  # each 201 stored, once, no other
    assert stored.refusals == 0
    assert_not_overspent(stored)
    assert sum(stored.spent_by_voucher.values()) == CHEQUES * CHEQUE_CENTS
