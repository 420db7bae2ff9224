"""Concurrent downloads of a batch's SEPA file, through a real server and real
connections: the first download of the day fixes the file, every other one gets the same
bytes, and the batch is exported once."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
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


async def test_concurrent_first_downloads_get_the_same_file(
    server: LiveServer, database: Database, settings: Settings
) -> None:
    batch_id, headers = await draft_batch(database, settings)
    limits = httpx.Limits(max_connections=DOWNLOADS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        path = f"/api/v1/payout-batches/{batch_id}/sepa.xml"
        responses = await asyncio.gather(
            *(client.get(path, headers=headers) for _ in range(DOWNLOADS))
        )
    assert [r.status_code for r in responses] == [200] * DOWNLOADS
    assert len({r.content for r in responses}) == 1
    async with database.sessionmaker() as session:
        batch = await session.get(PayoutBatch, batch_id)
        assert batch is not None and batch.status is BatchStatus.exported
        assert batch.file_created_at is not None
        exports = select(func.count()).where(
            col(AuditEvent.action) == "payout_batch.exported",
            col(AuditEvent.entity_id) == str(batch_id),
        )
        assert (await session.execute(exports)).scalar_one() == 1
