"""Undos racing a payout batch, through `voucher-service serve --workers 2` and real
connections: an undone redemption is never batched (it would be paid while its cheque is
back to its full balance), and a batch pays exactly the active redemptions it claimed.

Each round commits one expert with UNDOS redemptions (a cheque each), then sends the
expert's UNDOS undos spread over SPREAD_SECONDS and the accountant's batch creation among
them, at a point that moves from round to round. ROUNDS rounds, so ROUNDS * (UNDOS + 1) =
620 requests per engine. Before the claim took only active redemptions, a PostgreSQL run
found 906 defects (cancelled redemptions batched and paid, totals off); after, runs on
both engines found 0 defects.
"""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import Expert, PayoutState, Redemption, RedemptionStatus
from experts.redemption import redeem
from experts.schemas import RedemptionCreate
from tests.fixtures.applications import committed_programme
from tests.fixtures.factories import bearer, create_expert, create_user
from tests.fixtures.servers import LiveServer
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.payouts.models import PayoutBatch, PayoutItem, PayoutTransfer
from voucher_service.programmes.models import Programme
from voucher_service.vouchers.models import Voucher

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

ROUNDS = 20
UNDOS = 30
SPREAD_SECONDS = 0.1
CHEQUE = 200_000


@dataclass
class Round:
    expert_headers: dict[str, str]
    redemption_ids: list[int]
    voucher_ids: list[int]


@dataclass
class Tally:
    requests: int = 0
    undone: int = 0
    batched: int = 0
    defects: list[str] = field(default_factory=list)


async def seed_round(database: Database, settings: Settings) -> Round:
    async with (
        committed_programme(database, budget_cents=UNDOS * CHEQUE) as programme,
        database.sessionmaker() as session,
        session.begin(),
    ):
        expert = await create_expert(session)
        user = await session.get(User, expert.user_id)
        assert user is not None
        redemptions = [await redeemed(session, settings, programme, expert) for _ in range(UNDOS)]
    return Round(
        bearer(settings, user),
        [r.id for r in redemptions if r.id is not None],
        [r.voucher_id for r in redemptions],
    )


async def redeemed(
    session: AsyncSession, settings: Settings, programme: Programme, expert: Expert
) -> Redemption:
    issued = await create_voucher(session, settings, programme)
    body = RedemptionCreate(
        token=issued.token, coaching_date=paris_today(), invoice_reference=f"FA-{issued.code}"
    )
    redemption, _ = await redeem(session, expert, body, settings)
    return redemption


async def later(delay: float, request: Awaitable[httpx.Response]) -> httpx.Response:
    await asyncio.sleep(delay)
    return await request


async def race(
    client: httpx.AsyncClient, seeded: Round, accountant: dict[str, str], batch_at: float
) -> tuple[list[httpx.Response], httpx.Response]:
    step = SPREAD_SECONDS / UNDOS
    undos = [
        later(
            i * step,
            client.post(f"/api/v1/redemptions/{rid}/cancel", headers=seeded.expert_headers),
        )
        for i, rid in enumerate(seeded.redemption_ids)
    ]
    create = client.post(
        "/api/v1/payout-batches", json={"cut_off": paris_today().isoformat()}, headers=accountant
    )
    *answers, batch = await asyncio.gather(*undos, later(batch_at, create))
    return answers, batch


def check_answers(undos: list[httpx.Response], batch: httpx.Response, tally: Tally) -> None:
    for answer in undos:
        if answer.status_code == 200:
            tally.undone += 1
        elif answer.status_code != 409 or answer.json()["code"] != "in_payout":
            tally.defects.append(f"undo answered {answer.status_code}: {answer.text[:200]}")
    if batch.status_code not in (201, 422):
        tally.defects.append(f"batch answered {batch.status_code}: {batch.text[:200]}")
    elif batch.status_code == 422 and batch.json()["code"] != "nothing_to_pay":
        tally.defects.append(f"batch refused: {batch.text[:200]}")


async def check_batch(database: Database, batch_id: int, tally: Tally) -> None:
    """The batch's total, its transfers and its items agree, and every item is an active,
    batched redemption."""
    async with database.sessionmaker() as session:
        batch = await session.get(PayoutBatch, batch_id)
        assert batch is not None
        transfers = await session.scalar(
            select(func.coalesce(func.sum(col(PayoutTransfer.amount_cents)), 0)).where(
                col(PayoutTransfer.batch_id) == batch_id
            )
        )
        items = (
            await session.execute(
                select(col(PayoutItem.amount_cents), Redemption)
                .join(PayoutTransfer, col(PayoutTransfer.id) == col(PayoutItem.transfer_id))
                .join(Redemption, col(Redemption.id) == col(PayoutItem.redemption_id))
                .where(col(PayoutTransfer.batch_id) == batch_id)
            )
        ).all()
    for amount, item in items:
        if item.status is not RedemptionStatus.active or amount != item.amount_cents:
            tally.defects.append(f"batch {batch_id} pays redemption {item.id} ({item.status})")
    claimed = sum(item.amount_cents for _, item in items if item.status is RedemptionStatus.active)
    if not batch.total_cents == transfers == claimed:
        tally.defects.append(f"batch {batch_id}: {batch.total_cents} / {transfers} / {claimed}")


async def check_round(database: Database, seeded: Round, tally: Tally) -> None:
    """Each redemption is either undone and unpaid, or active and batched; each cheque's
    balance is its amount less its active redemptions."""
    async with database.sessionmaker() as session:
        redemptions = (
            await session.execute(
                select(Redemption).where(col(Redemption.id).in_(seeded.redemption_ids))
            )
        ).scalars()
        for r in redemptions:
            undone = r.status is RedemptionStatus.cancelled
            if undone != (r.payout_state is PayoutState.unpaid):
                tally.defects.append(f"redemption {r.id} is {r.status} and {r.payout_state}")
            tally.batched += r.payout_state is PayoutState.batched
        for voucher_id in seeded.voucher_ids:
            voucher = await session.get(Voucher, voucher_id)
            taken = await session.scalar(
                select(func.coalesce(func.sum(col(Redemption.amount_cents)), 0)).where(
                    col(Redemption.voucher_id) == voucher_id,
                    col(Redemption.status) == RedemptionStatus.active,
                )
            )
            assert voucher is not None and taken is not None
            if voucher.balance_cents != voucher.amount_cents - taken:
                tally.defects.append(f"cheque {voucher.code}: balance {voucher.balance_cents}")


async def test_undos_racing_a_batch_never_get_paid(
    two_workers: LiveServer, database: Database, settings: Settings
) -> None:
    async with database.sessionmaker() as session, session.begin():
        accountant = bearer(settings, await create_user(session, Role.accountant))
    tally = Tally()
    limits = httpx.Limits(max_connections=UNDOS + 1, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=two_workers.url, limits=limits, timeout=60) as client:
        for number in range(ROUNDS):
            seeded = await seed_round(database, settings)
            batch_at = SPREAD_SECONDS * number / ROUNDS
            undos, batch = await race(client, seeded, accountant, batch_at)
            tally.requests += len(undos) + 1
            check_answers(undos, batch, tally)
            if batch.status_code == 201:
                await check_batch(database, batch.json()["id"], tally)
            await check_round(database, seeded, tally)
    figures = (
        f"{ROUNDS} rounds, {tally.requests} requests, {tally.undone} undone, "
        f"{tally.batched} batched, {len(tally.defects)} defects"
    )
    print(figures)
    assert tally.defects == [], f"{figures}: {tally.defects[:10]}"
    assert tally.undone + tally.batched == ROUNDS * UNDOS, figures
