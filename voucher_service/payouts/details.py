"""Read-only views for the accounting page: a batch's transfers with the cheques each one
pays, and the bank statements imported with what their lines did; for a cheque's page, the
batch each of its redemptions went into."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import cast

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import Redemption
from voucher_service.payouts import batches, repository
from voucher_service.payouts.errors import StatementNotFound
from voucher_service.payouts.models import (
    BankStatementImport,
    BatchStatus,
    PayoutBatch,
    PayoutItem,
    PayoutTransfer,
    StatementLine,
    TransferStatus,
)
from voucher_service.vouchers.models import Voucher


@dataclass(frozen=True)
class PaidCheque:
    code: str
    invoice_reference: str
    coaching_date: date
    amount_cents: int


@dataclass(frozen=True)
class TransferDetail:
    transfer: PayoutTransfer
    cheques: list[PaidCheque]


@dataclass(frozen=True)
class BatchDetail:
    batch: PayoutBatch
    transfers: list[TransferDetail]


async def batch_detail(session: AsyncSession, batch_id: int) -> BatchDetail:
    """The batch, its transfers and, in each, the redemptions it pays; BatchNotFound."""
    batch = await batches.get_batch(session, batch_id)
    query = (
        select(
            col(PayoutItem.transfer_id),
            col(Voucher.code),
            col(Redemption.invoice_reference),
            col(Redemption.coaching_date),
            col(PayoutItem.amount_cents),
        )
        .join(PayoutTransfer, col(PayoutTransfer.id) == col(PayoutItem.transfer_id))
        .join(Redemption, col(Redemption.id) == col(PayoutItem.redemption_id))
        .join(Voucher, col(Voucher.id) == col(Redemption.voucher_id))
        .where(col(PayoutTransfer.batch_id) == batch_id)
        .order_by(col(PayoutItem.transfer_id), col(PayoutItem.id))
    )
    cheques: dict[int, list[PaidCheque]] = defaultdict(list)
    for transfer_id, code, invoice_reference, coaching_date, cents in await session.execute(query):
        cheques[transfer_id].append(PaidCheque(code, invoice_reference, coaching_date, cents))
    transfers = await repository.transfers_of(session, batch_id)
    return BatchDetail(batch, [TransferDetail(t, cheques[t.id or 0]) for t in transfers])


@dataclass(frozen=True)
class StatementSummary:
    imported: BankStatementImport
    matched: int
    unmatched: int


async def imported_statements(session: AsyncSession, limit: int = 20) -> list[StatementSummary]:
    """The last statements imported, newest first, with how many lines matched a transfer."""
    matched = func.coalesce(func.sum(case((col(StatementLine.matched), 1), else_=0)), 0)
    query = (
        select(BankStatementImport, matched, func.count(col(StatementLine.id)))
        .outerjoin(StatementLine, col(StatementLine.import_id) == col(BankStatementImport.id))
        .group_by(col(BankStatementImport.id))
        .order_by(col(BankStatementImport.id).desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [StatementSummary(imported, int(hit), int(total - hit)) for imported, hit, total in rows]


@dataclass(frozen=True)
class StatementDetail:
    imported: BankStatementImport
    lines: list[StatementLine]

    @property
    def matched(self) -> int:
        return sum(1 for line in self.lines if line.matched)


async def statement_detail(session: AsyncSession, import_id: int) -> StatementDetail:
    imported = await session.get(BankStatementImport, import_id)
    if imported is None:
        raise StatementNotFound(f"Aucun relevé importé n°{import_id}.")
    return StatementDetail(imported, await repository.lines_of(session, import_id))


@dataclass(frozen=True)
class RedemptionPayout:
    """The latest payout batch that took a redemption, and where its transfer stands."""

    batch_id: int
    batch_status: BatchStatus
    transfer_status: TransferStatus


async def payouts_of(
    session: AsyncSession, redemption_ids: Collection[int]
) -> dict[int, RedemptionPayout]:
    """By redemption id, the last batch each of these redemptions was put in (a cancelled
    batch or a returned transfer stays visible until another batch takes it)."""
    if not redemption_ids:
        return {}
    query = (
        select(
            col(PayoutItem.redemption_id),
            col(PayoutBatch.id),
            col(PayoutBatch.status),
            col(PayoutTransfer.status),
        )
        .join(PayoutTransfer, col(PayoutTransfer.id) == col(PayoutItem.transfer_id))
        .join(PayoutBatch, col(PayoutBatch.id) == col(PayoutTransfer.batch_id))
        .where(col(PayoutItem.redemption_id).in_(redemption_ids))
        .order_by(col(PayoutItem.id))
    )
    rows = await session.execute(query)
    # Stored ids are NOT NULL; the model's `int | None` is for rows not yet flushed.
    return {row[0]: RedemptionPayout(cast(int, row[1]), row[2], row[3]) for row in rows}
