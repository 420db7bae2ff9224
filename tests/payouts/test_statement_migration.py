"""Migration 0012_statement_account on data: the transfers of batches cancelled before it
are cancelled, those of live batches stay pending, and the downgrade puts them back."""

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from tests.fixtures.factories import create_expert
from voucher_service.core import schema
from voucher_service.core.clock import paris_today
from voucher_service.payouts.models import BatchStatus, PayoutBatch, PayoutTransfer

BEFORE = "0013"


async def transfer_in(session: AsyncSession, status: BatchStatus, expert_id: int) -> None:
    batch = PayoutBatch(
        cut_off=paris_today(), status=status, total_cents=100, message_id=status.value
    )
    session.add(batch)
    await session.flush()
    assert batch.id is not None
    transfer = PayoutTransfer(
        batch_id=batch.id,
        expert_id=expert_id,
        amount_cents=100,
        end_to_end_id=f"MCD-MIGRATION-{status.value}",
        creditor_name="Expert",
        iban="FR1420041010050500013M02606",
        bic="PSSTFRPPMAR",
        remittance="MCD-TEST",
    )
    session.add(transfer)
    await session.flush()


async def statuses(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.exec_driver_sql("SELECT status FROM payout_transfer ORDER BY id")
        return [row[0] for row in rows]


async def test_transfers_of_cancelled_batches_are_cancelled(empty_database_url: str) -> None:
    engine = create_async_engine(empty_database_url)
    try:
        # The rows are written through today's models, then taken back to before the
        # migration: the models hold columns that later migrations add.
        await schema.upgrade(engine)
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            expert = await create_expert(session)
            assert expert.id is not None
            await transfer_in(session, BatchStatus.cancelled, expert.id)
            await transfer_in(session, BatchStatus.exported, expert.id)
        await schema.downgrade(engine, BEFORE)
        assert await statuses(engine) == ["pending", "pending"]
        await schema.upgrade(engine)
        assert await statuses(engine) == ["cancelled", "pending"]
        await schema.downgrade(engine, BEFORE)
        assert await statuses(engine) == ["pending", "pending"]
    finally:
        await engine.dispose()
