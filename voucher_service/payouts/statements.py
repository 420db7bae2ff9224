"""Bank statements (camt.053): settle the transfers the bank booked, undo the ones it
returned, keep every other line for a person to look at.

A statement is imported once: its id is unique, and importing it again changes nothing
and says so. A transfer that is already settled is never settled twice.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from experts.models import Expert, PayoutState, Redemption, RedemptionStatus
from notifications import service as notifications
from voucher_service.core import audit
from voucher_service.core.db import utcnow
from voucher_service.core.formatting import PARIS
from voucher_service.payouts import accounting, camt
from voucher_service.payouts.batches import release_items
from voucher_service.payouts.errors import StatementAlreadyImporting
from voucher_service.payouts.models import (
    BankStatementImport,
    BatchStatus,
    PayoutBatch,
    PayoutItem,
    PayoutTransfer,
    StatementLine,
    TransferStatus,
)
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import service as vouchers
from voucher_service.vouchers.models import Voucher, VoucherStatus


@dataclass
class ImportedStatement:
    statement_id: str
    already_imported: bool
    lines: list[StatementLine] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # EndToEndIds
    returned: list[str] = field(default_factory=list)


async def import_statement(session: AsyncSession, data: bytes) -> list[ImportedStatement]:
    """Every statement of a camt.053 document; raises InvalidStatement when unreadable."""
    statements = camt.parse_statements(data)
    digest = hashlib.sha256(data).hexdigest()
    results = []
    for statement in statements:
        query = select(BankStatementImport).where(
            BankStatementImport.statement_id == statement.id  # type: ignore[arg-type]
        )
        known = (await session.execute(query)).scalar_one_or_none()
        if known is not None:
            assert known.id is not None
            lines = await lines_of(session, known.id)
            results.append(ImportedStatement(statement.id, True, lines))
            continue
        results.append(await _import_one(session, statement, digest))
    return results


async def lines_of(session: AsyncSession, import_id: int) -> list[StatementLine]:
    query = (
        select(StatementLine)
        .where(StatementLine.import_id == import_id)  # type: ignore[arg-type]
        .order_by(StatementLine.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(query)).scalars())


async def _import_one(
    session: AsyncSession, statement: camt.Statement, digest: str
) -> ImportedStatement:
    imported = BankStatementImport(
        statement_id=statement.id, account_iban=statement.account_iban, raw_digest=digest
    )
    try:
        async with session.begin_nested():
            session.add(imported)
            await session.flush()
    except IntegrityError as error:  # imported at the same moment by another request
        raise StatementAlreadyImporting(statement_id=statement.id) from error
    assert imported.id is not None
    result = ImportedStatement(statement.id, False)
    batches: set[int] = set()
    for entry in statement.entries:
        line = StatementLine(
            import_id=imported.id,
            entry_ref=(entry.entry_ref or "")[:35] or None,
            amount_cents=entry.amount_cents,
            credit_debit=entry.credit_debit,
        )
        executed_on = entry.booking_date or utcnow().astimezone(PARIS).date()
        if entry.is_return or entry.status == "RJCT":
            done = await _returns(session, entry, executed_on)
            result.returned += [t.end_to_end_id for t in done]
            line.note = (
                f"Retour ({entry.return_reason or entry.status}) : "
                + ", ".join(t.end_to_end_id for t in done)
                if done
                else "Retour sans virement correspondant"
            )
        elif entry.credit_debit == "DBIT" and entry.status == "BOOK":
            done, note = await _debits(session, entry)
            for transfer in done:
                await settle_transfer(session, transfer, executed_on)
            result.settled += [t.end_to_end_id for t in done]
            line.note = note
        else:
            done = []
            line.note = f"Hors virements de paiement ({entry.credit_debit} {entry.status})"
        line.matched = bool(done)
        line.matched_transfer_id = done[0].id if len(done) == 1 else None
        batches.update(t.batch_id for t in done)
        session.add(line)
        result.lines.append(line)
    await session.flush()
    for batch_id in sorted(batches):
        await _update_batch(session, batch_id)
    audit.record(
        session,
        "bank_statement.imported",
        "bank_statement_import",
        imported.id,
        after={
            "statement_id": statement.id,
            "lines": len(result.lines),
            "settled": result.settled,
            "returned": result.returned,
        },
    )
    return result


async def _transfer_by_e2e(session: AsyncSession, e2e: str) -> PayoutTransfer | None:
    query = select(PayoutTransfer).where(PayoutTransfer.end_to_end_id == e2e)  # type: ignore[arg-type]
    return (await session.execute(query)).scalar_one_or_none()


async def _debits(session: AsyncSession, entry: camt.Entry) -> tuple[list[PayoutTransfer], str]:
    """The pending transfers a booked debit pays: by EndToEndId and amount, or the whole
    batch by message id and total."""
    found: list[PayoutTransfer] = []
    notes: list[str] = []
    for tx in entry.transactions:
        if not tx.end_to_end_id:
            continue
        transfer = await _transfer_by_e2e(session, tx.end_to_end_id)
        if transfer is None:
            notes.append(f"{tx.end_to_end_id} inconnu")
        elif tx.amount_cents is not None and tx.amount_cents != transfer.amount_cents:
            notes.append(f"{tx.end_to_end_id} : montant différent")
        elif transfer.status is not TransferStatus.pending:
            notes.append(f"{tx.end_to_end_id} déjà {transfer.status.value}")
        else:
            found.append(transfer)
    if not found and entry.batch_message_id:
        query = select(PayoutBatch).where(PayoutBatch.message_id == entry.batch_message_id)  # type: ignore[arg-type]
        batch = (await session.execute(query)).scalar_one_or_none()
        if batch is None or batch.status is BatchStatus.cancelled:
            notes.append(f"lot {entry.batch_message_id} inconnu")
        else:
            query = select(PayoutTransfer).where(
                PayoutTransfer.batch_id == batch.id,  # type: ignore[arg-type]
                PayoutTransfer.status == TransferStatus.pending,  # type: ignore[arg-type]
            )
            pending = list((await session.execute(query)).scalars())
            if pending and sum(t.amount_cents for t in pending) == entry.amount_cents:
                found = pending
                notes = [f"Lot {entry.batch_message_id} réglé"]
            else:
                notes.append(f"lot {entry.batch_message_id} : total différent")
    if found and not notes:
        notes.append("Réglé : " + ", ".join(t.end_to_end_id for t in found))
    if not found and not notes:
        notes.append("Aucun virement correspondant")
    return found, "; ".join(notes)[:300]


async def _returns(
    session: AsyncSession, entry: camt.Entry, booked_on: date
) -> list[PayoutTransfer]:
    done = []
    for tx in entry.transactions:
        if not tx.end_to_end_id:
            continue
        transfer = await _transfer_by_e2e(session, tx.end_to_end_id)
        if transfer is None or transfer.status is TransferStatus.returned:
            continue
        await return_transfer(session, transfer, tx.return_reason or entry.return_reason, booked_on)
        done.append(transfer)
    return done


async def _redemptions_of(session: AsyncSession, transfer_id: int) -> list[Redemption]:
    query = (
        select(Redemption)
        .join(PayoutItem, PayoutItem.redemption_id == Redemption.id)  # type: ignore[arg-type]
        .where(PayoutItem.transfer_id == transfer_id)  # type: ignore[arg-type]
        .order_by(Redemption.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(query)).scalars())


async def settle_transfer(
    session: AsyncSession, transfer: PayoutTransfer, executed_on: date
) -> None:
    """The bank paid the transfer: its redemptions are paid, fully paid cheques too, and
    the expert is told."""
    assert transfer.id is not None
    transfer.status = TransferStatus.settled
    transfer.settled_at = utcnow()
    redemptions = await _redemptions_of(session, transfer.id)
    ids = [r.id for r in redemptions]
    await session.execute(
        update(Redemption)
        .where(Redemption.id.in_(ids))  # type: ignore[union-attr]
        .values(payout_state=PayoutState.paid)
    )
    await session.flush()
    voucher_ids = sorted({r.voucher_id for r in redemptions})
    payable = []
    for voucher_id in voucher_ids:
        voucher = await session.get(Voucher, voucher_id)
        if voucher is None or voucher.status is not VoucherStatus.redeemed:
            continue
        query = select(Redemption.id).where(
            Redemption.voucher_id == voucher_id,  # type: ignore[arg-type]
            Redemption.status == RedemptionStatus.active,  # type: ignore[arg-type]
            Redemption.payout_state != PayoutState.paid,  # type: ignore[arg-type]
        )
        if (await session.execute(query)).first() is None:
            payable.append(voucher_id)
    if payable:
        await vouchers.mark_paid(session, payable)
    accounting.book_payment(session, transfer, executed_on)
    audit.record(
        session,
        "payout_transfer.settled",
        "payout_transfer",
        transfer.id,
        before={"status": TransferStatus.pending.value},
        after={"status": TransferStatus.settled.value, "redemptions": ids, "paid": payable},
    )
    await _notify(session, transfer, redemptions, executed_on)


async def _notify(
    session: AsyncSession,
    transfer: PayoutTransfer,
    redemptions: list[Redemption],
    executed_on: date,
) -> None:
    expert = await session.get(Expert, transfer.expert_id)
    assert expert is not None
    cheques = []
    programme: Programme | None = None
    for redemption in redemptions:
        voucher = await session.get(Voucher, redemption.voucher_id)
        assert voucher is not None
        programme = programme or await session.get(Programme, voucher.programme_id)
        cheques.append(
            {
                "code": voucher.code,
                "amount_cents": redemption.amount_cents,
                "invoice_reference": redemption.invoice_reference,
            }
        )
    await notifications.enqueue(
        session,
        "payout_sent",
        expert.email,
        {
            "expert_name": expert.legal_name,
            "total_cents": transfer.amount_cents,
            "executed_on": executed_on,
            "cheques": cheques,
            "programme_name": programme.name if programme else "",
            "programme_contact": programme.contact_email if programme else "",
        },
        dedupe_key=f"payout_sent:{transfer.end_to_end_id}",
    )


async def return_transfer(
    session: AsyncSession, transfer: PayoutTransfer, reason: str | None, booked_on: date
) -> None:
    """The bank sent the money back: the redemptions are unpaid again, free for a new batch."""
    assert transfer.id is not None
    before = transfer.status
    transfer.status = TransferStatus.returned
    transfer.return_reason = (reason or "")[:35] or None
    redemption_ids = await release_items(session, [transfer.id])
    await session.flush()
    unpaid: list[int] = []
    if before is TransferStatus.settled:
        query = select(Voucher.id).where(
            Voucher.id.in_(  # type: ignore[union-attr]
                select(Redemption.voucher_id).where(Redemption.id.in_(redemption_ids))  # type: ignore[union-attr]
            ),
            Voucher.status == VoucherStatus.paid,  # type: ignore[arg-type]
        )
        unpaid = list((await session.execute(query)).scalars())
        if unpaid:
            await vouchers.mark_unpaid(session, unpaid)
        await accounting.reverse_payment(session, transfer, booked_on)
    audit.record(
        session,
        "payout_transfer.returned",
        "payout_transfer",
        transfer.id,
        before={"status": before.value},
        after={
            "status": TransferStatus.returned.value,
            "reason": transfer.return_reason,
            "redemptions": redemption_ids,
            "unpaid": unpaid,
        },
    )


async def _update_batch(session: AsyncSession, batch_id: int) -> None:
    batch = await session.get(PayoutBatch, batch_id)
    assert batch is not None
    query = select(PayoutTransfer.status).where(PayoutTransfer.batch_id == batch_id)  # type: ignore[arg-type]
    statuses = list((await session.execute(query)).scalars())
    if all(s is TransferStatus.settled for s in statuses):
        status = BatchStatus.settled
    elif any(s is not TransferStatus.pending for s in statuses):
        status = BatchStatus.partially_settled
    else:
        return
    if status is batch.status:
        return
    before = batch.status
    batch.status = status
    batch.settled_at = utcnow()
    await session.flush()
    audit.record(
        session,
        f"payout_batch.{status.value}",
        "payout_batch",
        batch_id,
        before={"status": before.value},
        after={"status": status.value},
    )
