"""Bank statements imported at the same moment, through a real server and real
connections: a transfer is settled once, whatever the number of statements naming it."""

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from notifications.models import Notification
from tests.fixtures.factories import bearer, create_expert, create_user
from tests.fixtures.servers import LiveServer
from tests.payouts.camt_builder import StatementEntry, StatementTransaction, build_statement
from tests.payouts.conftest import redeemed
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.payouts import batches, repository
from voucher_service.payouts.models import PayoutTransfer, TransferStatus

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
UPLOADS = 8


async def seed(database: Database, settings: Settings) -> tuple[dict[str, str], PayoutTransfer]:
    """An exported batch holding one transfer of our expert, committed."""
    async with database.sessionmaker() as session, session.begin():
        expert = await create_expert(session)
        await redeemed(session, settings, expert)
        batch = await batches.create_batch(session, paris_today())
        assert batch.id is not None
        await batches.export_batch(session, batch.id, settings)
        [transfer] = [
            t for t in await repository.transfers_of(session, batch.id) if t.expert_id == expert.id
        ]
        accountant = await create_user(session, Role.accountant)
    return bearer(settings, accountant), transfer


async def test_statements_naming_one_transfer_at_once_settle_it_once(
    live_server: LiveServer, database: Database, settings: Settings
) -> None:
    headers, transfer = await seed(database, settings)
    entry = StatementEntry(
        transfer.amount_cents,
        transactions=[StatementTransaction(transfer.end_to_end_id, transfer.amount_cents)],
    )
    documents = [
        build_statement([entry], statement_id=f"STMT-RACE-{transfer.id}-{n}")
        for n in range(UPLOADS)
    ]
    limits = httpx.Limits(max_connections=UPLOADS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=live_server.url, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/bank-statements",
                    files={"file": ("releve.xml", document, "application/xml")},
                    headers=headers,
                )
                for document in documents
            )
        )
    assert [r.status_code for r in responses] == [200] * UPLOADS, [r.text for r in responses]
    settled = [e2e for r in responses for s in r.json()["statements"] for e2e in s["settled"]]
    assert settled == [transfer.end_to_end_id]
    async with database.sessionmaker() as session:
        stored = await session.get(PayoutTransfer, transfer.id)
        assert stored is not None and stored.status is TransferStatus.settled
        audits = select(func.count()).where(
            col(AuditEvent.action) == "payout_transfer.settled",
            col(AuditEvent.entity_id) == str(transfer.id),
        )
        assert (await session.execute(audits)).scalar_one() == 1
        mails = select(func.count()).where(
            col(Notification.dedupe_key) == f"payout_sent:{transfer.end_to_end_id}"
        )
        assert (await session.execute(mails)).scalar_one() == 1
