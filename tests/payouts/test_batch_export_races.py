"""Concurrent exports of a batch, through a real server and real connections: the batch
is exported once and every download gets the same bytes; an export and a cancellation at
the same moment never both win."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.fixtures.factories import bearer, create_expert, create_user
from tests.fixtures.servers import LiveServer, serve
from tests.payouts.conftest import redeemed
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.payouts import batches
from voucher_service.payouts.models import BatchStatus, PayoutBatch

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
DOWNLOADS = 20
ROUNDS = 8


@pytest.fixture(scope="module")
async def server(database: Database) -> AsyncIterator[LiveServer]:
    url = database.engine.url.render_as_string(hide_password=False)
    async with serve(url) as live:
        yield live


async def draft_batch(database: Database, settings: Settings) -> tuple[int, dict[str, str]]:
    async with database.sessionmaker() as session, session.begin():
        expert = await create_expert(session)
        await redeemed(session, settings, expert)
        batch = await batches.create_batch(session, paris_today())
        accountant = await create_user(session, Role.accountant)
    assert batch.id is not None
    return batch.id, bearer(settings, accountant)


async def test_concurrent_exports_move_the_batch_once(
    server: LiveServer, database: Database, settings: Settings
) -> None:
    batch_id, headers = await draft_batch(database, settings)
    limits = httpx.Limits(max_connections=DOWNLOADS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        path = f"/api/v1/payout-batches/{batch_id}"
        exports = await asyncio.gather(
            *(client.post(f"{path}/export", headers=headers) for _ in range(DOWNLOADS))
        )
        files = await asyncio.gather(
            *(client.get(f"{path}/sepa.xml", headers=headers) for _ in range(DOWNLOADS))
        )
    assert [r.status_code for r in exports] == [200] * DOWNLOADS
    assert [r.status_code for r in files] == [200] * DOWNLOADS
    assert len({r.content for r in files}) == 1
    async with database.sessionmaker() as session:
        batch = await session.get(PayoutBatch, batch_id)
        assert batch is not None and batch.status is BatchStatus.exported
        assert batch.file_created_at is not None
        assert await audited(session, batch_id, "payout_batch.exported") == 1


async def test_an_export_and_a_cancellation_at_once_never_both_win(
    server: LiveServer, database: Database, settings: Settings
) -> None:
    for _ in range(ROUNDS):
        batch_id, headers = await draft_batch(database, settings)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            path = f"/api/v1/payout-batches/{batch_id}"
            export, cancel = await asyncio.gather(
                client.post(f"{path}/export", headers=headers),
                client.post(f"{path}/cancel", headers=headers),
            )
        assert sorted([export.status_code, cancel.status_code]) == [200, 409]
        async with database.sessionmaker() as session:
            batch = await session.get(PayoutBatch, batch_id)
            assert batch is not None
            won = BatchStatus.exported if export.status_code == 200 else BatchStatus.cancelled
            assert batch.status is won
            assert await audited(session, batch_id, "payout_batch.exported") == int(
                won is BatchStatus.exported
            )
            assert await audited(session, batch_id, "payout_batch.cancelled") == int(
                won is BatchStatus.cancelled
            )


async def audited(session: AsyncSession, batch_id: int, action: str) -> int:
    events = select(func.count()).where(
        col(AuditEvent.action) == action, col(AuditEvent.entity_id) == str(batch_id)
    )
    return (await session.execute(events)).scalar_one()


async def test_approvals_at_once_by_several_people_record_one(
    server: LiveServer, database: Database, settings: Settings
) -> None:
    """Four eyes: the second people who approve a draft at the same moment all see it
    approved, and one of them is recorded, once."""
    batch_id, _ = await draft_batch(database, settings)
    async with database.sessionmaker() as session, session.begin():
        approvers = [await create_user(session, Role.accountant) for _ in range(DOWNLOADS)]
    limits = httpx.Limits(max_connections=DOWNLOADS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        path = f"/api/v1/payout-batches/{batch_id}/approve"
        answers = await asyncio.gather(
            *(client.post(path, headers=bearer(settings, user)) for user in approvers)
        )
    assert [r.status_code for r in answers] == [200] * DOWNLOADS
    assert len({r.json()["approved_by_id"] for r in answers}) == 1
    async with database.sessionmaker() as session:
        batch = await session.get(PayoutBatch, batch_id)
        assert batch is not None and batch.approved_by_id in {u.id for u in approvers}
        assert await audited(session, batch_id, "payout_batch.approved") == 1
