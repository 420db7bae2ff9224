"""Payouts queries shared by its modules: they take the session and decide nothing."""

from collections.abc import Collection
from typing import cast

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.payouts.errors import BatchNotFound
from voucher_service.payouts.models import (
    BankStatementImport,
    PayoutBatch,
    PayoutItem,
    PayoutTransfer,
    StatementLine,
    TransferStatus,
)
from voucher_service.vouchers.models import Voucher, VoucherStatus

LOOKUP_CHUNK = 500  # ids per IN (...): well under both engines' limits on parameters


async def transfers_of(session: AsyncSession, batch_id: int) -> list[PayoutTransfer]:
    query = (
        select(PayoutTransfer)
        .where(col(PayoutTransfer.batch_id) == batch_id)
        .order_by(col(PayoutTransfer.id))
    )
    return list((await session.execute(query)).scalars())


async def transfer_statuses(session: AsyncSession, batch_id: int) -> list[TransferStatus]:
    query = select(col(PayoutTransfer.status)).where(col(PayoutTransfer.batch_id) == batch_id)
    return list((await session.execute(query)).scalars())


def _locked(query: Select[PayoutTransfer]) -> Select[PayoutTransfer]:
    """Rows locked for the transaction (PostgreSQL; SQLite's writers take turns anyway),
    with the values committed by whoever held the lock before."""
    return query.with_for_update().execution_options(populate_existing=True)


async def lock_transfers_named(
    session: AsyncSession, end_to_end_ids: Collection[str]
) -> dict[str, PayoutTransfer]:
    """The transfers of these EndToEndIds, read in a few queries and locked until the
    transaction ends, in EndToEndId order (the same for every import, so that two imports
    never wait for each other in a circle)."""
    ids = sorted(end_to_end_ids)
    found: dict[str, PayoutTransfer] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        query = _locked(
            select(PayoutTransfer)
            .where(col(PayoutTransfer.end_to_end_id).in_(ids[start : start + LOOKUP_CHUNK]))
            .order_by(col(PayoutTransfer.end_to_end_id))
        )
        found.update((t.end_to_end_id, t) for t in (await session.execute(query)).scalars())
    return found


async def lock_pending_transfers(session: AsyncSession, batch_id: int) -> list[PayoutTransfer]:
    """The batch's pending transfers, locked, in EndToEndId order."""
    query = _locked(
        select(PayoutTransfer)
        .where(
            col(PayoutTransfer.batch_id) == batch_id,
            col(PayoutTransfer.status) == TransferStatus.pending,
        )
        .order_by(col(PayoutTransfer.end_to_end_id))
    )
    return list((await session.execute(query)).scalars())


async def batch_named(session: AsyncSession, message_ids: Collection[str]) -> PayoutBatch | None:
    """The batch whose file carries one of these MsgIds (or PmtInfIds, the same)."""
    query = select(PayoutBatch).where(col(PayoutBatch.message_id).in_(message_ids))
    return (await session.execute(query)).scalars().first()


async def redemption_ids_of(session: AsyncSession, transfer_ids: Collection[int]) -> list[int]:
    """The redemptions these transfers carry (or carried), by item."""
    query = (
        select(col(PayoutItem.redemption_id))
        .where(col(PayoutItem.transfer_id).in_(transfer_ids))
        .order_by(col(PayoutItem.id))
    )
    return list((await session.execute(query)).scalars())


async def unlink_items(session: AsyncSession, transfer_ids: Collection[int]) -> None:
    """The transfers' items no longer count: their redemptions may go into another batch."""
    await session.execute(
        update(PayoutItem)
        .where(col(PayoutItem.transfer_id).in_(transfer_ids))
        .values(live_redemption_id=None)
    )


async def statement_import(
    session: AsyncSession, account_iban: str, statement_id: str
) -> BankStatementImport | None:
    query = select(BankStatementImport).where(
        col(BankStatementImport.account_iban) == account_iban,
        col(BankStatementImport.statement_id) == statement_id,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def lines_of(session: AsyncSession, import_id: int) -> list[StatementLine]:
    query = (
        select(StatementLine)
        .where(col(StatementLine.import_id) == import_id)
        .order_by(col(StatementLine.id))
    )
    return list((await session.execute(query)).scalars())


async def paid_vouchers(session: AsyncSession, voucher_ids: Collection[int]) -> list[int]:
    """Those of the cheques that are paid, by id."""
    query = (
        select(col(Voucher.id))
        .where(col(Voucher.id).in_(voucher_ids), col(Voucher.status) == VoucherStatus.paid)
        .order_by(col(Voucher.id))
    )
    # Stored ids are NOT NULL; the model's `int | None` is for rows not yet flushed.
    return cast(list[int], list((await session.execute(query)).scalars()))


async def get_batch(session: AsyncSession, batch_id: int) -> PayoutBatch:
    batch = await session.get(PayoutBatch, batch_id)
    if batch is None:
        raise BatchNotFound(f"Aucun lot de virements n°{batch_id}.")
    return batch
