"""Bank statements (camt.053): settle the transfers the bank booked, undo the ones it
returned, keep every other line for a person to look at.

Each entry is first classified (which transfers it settles or returns, or why none),
then applied. An entry moves transfers only when its direction, its amount and their
state agree: a booked debit settles pending transfers whose total is its amount, a
booked credit marked as a return (or a rejection) returns transfers of its amount that
were settled or still pending. Anything else is kept as an unmatched line with the
reason in French.

A statement is imported once: its account and its id are unique together, and
importing it again changes nothing and says so. A transfer that is already settled is
never settled twice, nor a returned one returned twice.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import cast

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from stdnum import iban as stdnum_iban

from experts.models import Expert, PayoutState, Redemption, RedemptionStatus
from notifications import service as notifications
from voucher_service.core import audit, clock
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.formatting import euros
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

LOOKUP_CHUNK = 500  # ids per IN (...): well under both engines' limits on parameters


@dataclass
class ImportedStatement:
    statement_id: str
    already_imported: bool
    account_iban: str
    paying_account: bool  # only the paying account's statements settle anything
    lines: list[StatementLine] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # EndToEndIds
    returned: list[str] = field(default_factory=list)


async def import_statement(
    session: AsyncSession, data: bytes, settings: Settings
) -> list[ImportedStatement]:
    """Every statement of a camt.053 document; raises InvalidStatement when unreadable.

    A statement of another account than the paying one is imported with every line
    unmatched, so that it is reported as such and importing it again changes nothing."""
    statements = camt.parse_statements(data, max_bytes=settings.max_statement_bytes)
    digest = hashlib.sha256(data).hexdigest()
    paying_iban = stdnum_iban.compact(settings.payout_debtor_iban)
    results = []
    for statement in statements:
        paying = statement.account_iban == paying_iban
        query = select(BankStatementImport).where(
            col(BankStatementImport.account_iban) == statement.account_iban,
            col(BankStatementImport.statement_id) == statement.id,
        )
        known = (await session.execute(query)).scalar_one_or_none()
        if known is not None:
            assert known.id is not None
            lines = await lines_of(session, known.id)
            results.append(
                ImportedStatement(statement.id, True, statement.account_iban, paying, lines)
            )
            continue
        results.append(await _import_one(session, statement, digest, paying))
    return results


async def lines_of(session: AsyncSession, import_id: int) -> list[StatementLine]:
    query = (
        select(StatementLine)
        .where(col(StatementLine.import_id) == import_id)
        .order_by(col(StatementLine.id))
    )
    return list((await session.execute(query)).scalars())


async def _import_one(
    session: AsyncSession, statement: camt.Statement, digest: str, paying: bool
) -> ImportedStatement:
    imported = await _record_import(session, statement, digest)
    assert imported.id is not None
    result = ImportedStatement(statement.id, False, statement.account_iban, paying)
    known = await _transfers_named(session, statement) if paying else {}
    other_account = _unmatched(
        f"Relevé du compte {statement.account_iban}, qui n'est pas le compte de paiement "
        "des experts : rien n'est rapproché"
    )
    batches: set[int] = set()
    for entry in statement.entries:
        outcome = await _classify(session, entry, known) if paying else other_account
        await _apply(session, entry, outcome, result)
        batches.update(t.batch_id for t, _ in outcome.matches)
        result.lines.append(_line(imported.id, entry, outcome))
    session.add_all(result.lines)
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


async def _record_import(
    session: AsyncSession, statement: camt.Statement, digest: str
) -> BankStatementImport:
    imported = BankStatementImport(
        statement_id=statement.id, account_iban=statement.account_iban, raw_digest=digest
    )
    try:
        async with session.begin_nested():
            session.add(imported)
            await session.flush()
    except IntegrityError as error:  # imported at the same moment by another request
        raise StatementAlreadyImporting(statement_id=statement.id) from error
    return imported


class Action(StrEnum):
    settle = "settle"
    give_back = "return"
    none = "none"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one entry does: settle or return these transfers (each with the return reason
    the bank gave), or nothing, and why."""

    action: Action
    note: str
    matches: list[tuple[PayoutTransfer, str | None]] = field(default_factory=list)


def _unmatched(note: str) -> _Outcome:
    return _Outcome(Action.none, note[:300])


# The states from which each action may move a transfer. A return usually follows the
# debit; a rejection (RJCT), or a return whose debit is not imported yet, finds it pending.
SETTLEABLE = frozenset({TransferStatus.pending})
REJECTABLE = frozenset({TransferStatus.pending})
RETURNABLE = frozenset({TransferStatus.pending, TransferStatus.settled})
STATE_NOTES = {
    TransferStatus.pending: "en attente",
    TransferStatus.settled: "déjà réglé",
    TransferStatus.returned: "déjà retourné",
    TransferStatus.cancelled: "annulé avec son lot",
}


async def _classify(
    session: AsyncSession, entry: camt.Entry, known: dict[str, PayoutTransfer]
) -> _Outcome:
    """Which transfers an entry settles or returns; nothing unless amount, direction and
    the transfers' state all agree."""
    if entry.currency != "EUR":
        return _unmatched(f"Écriture en {entry.currency} : seuls les euros sont rapprochés")
    if entry.status == "RJCT":
        return _by_end_to_end(entry, known, Action.give_back, REJECTABLE)
    if entry.is_return and entry.credit_debit == "CRDT" and entry.status == "BOOK":
        return _by_end_to_end(entry, known, Action.give_back, RETURNABLE)
    if entry.is_return:
        return _unmatched(f"Retour non pris en compte ({entry.credit_debit} {entry.status})")
    if entry.credit_debit != "DBIT" or entry.status != "BOOK":
        return _unmatched(f"Hors virements de paiement ({entry.credit_debit} {entry.status})")
    if any(tx.end_to_end_id for tx in entry.transactions):
        return _by_end_to_end(entry, known, Action.settle, SETTLEABLE)
    references = [r for r in (entry.batch_message_id, entry.batch_payment_id) if r]
    if references:
        return await _by_batch(session, entry, references)
    return _unmatched("Aucun virement correspondant")


def _by_end_to_end(
    entry: camt.Entry,
    known: dict[str, PayoutTransfer],
    action: Action,
    allowed: frozenset[TransferStatus],
) -> _Outcome:
    """The transfers the entry names, each found, of the amount the bank gives and in an
    allowed state, their total being the entry's amount; else none of them."""
    named = [tx for tx in entry.transactions if tx.end_to_end_id]
    if not named:
        return _unmatched("Aucun virement correspondant")
    ids = [str(tx.end_to_end_id) for tx in named]
    if len(set(ids)) != len(ids):
        return _unmatched("Un virement est nommé deux fois dans l'écriture")
    problems = [
        p for tx in named if (p := _mismatch(tx, known.get(str(tx.end_to_end_id)), allowed))
    ]
    if problems:
        return _unmatched("; ".join(problems))
    matches = [
        (known[e2e], tx.return_reason or entry.return_reason)
        for e2e, tx in zip(ids, named, strict=True)
    ]
    total = sum(transfer.amount_cents for transfer, _ in matches)
    if total != entry.amount_cents:
        return _unmatched(
            f"Montant de l'écriture {euros(entry.amount_cents)} différent du total des "
            f"virements nommés {euros(total)}"
        )
    if action is Action.settle:
        return _Outcome(action, "Réglé : " + ", ".join(ids), matches)
    reason = entry.return_reason or entry.status
    return _Outcome(action, f"Retour ({reason}) : " + ", ".join(ids), matches)


def _mismatch(
    tx: camt.EntryTransaction,
    transfer: PayoutTransfer | None,
    allowed: frozenset[TransferStatus],
) -> str | None:
    if transfer is None:
        return f"{tx.end_to_end_id} inconnu"
    if tx.amount_cents is not None and tx.amount_cents != transfer.amount_cents:
        return (
            f"{tx.end_to_end_id} : montant {euros(tx.amount_cents)} au lieu de "
            f"{euros(transfer.amount_cents)}"
        )
    if transfer.status not in allowed:
        return f"{tx.end_to_end_id} {STATE_NOTES[transfer.status]}"
    return None


async def _by_batch(session: AsyncSession, entry: camt.Entry, references: list[str]) -> _Outcome:
    """A whole batch booked as one debit, named by the file's MsgId or its PmtInfId (the
    same in our files): every pending transfer of it, as many as the bank counts, their
    total being the entry's amount."""
    query = select(PayoutBatch).where(col(PayoutBatch.message_id).in_(references))
    batch = (await session.execute(query)).scalars().first()
    if batch is None:
        return _unmatched(f"Lot {' / '.join(references)} inconnu")
    reference = batch.message_id
    if batch.status is BatchStatus.cancelled:
        return _unmatched(f"Lot {reference} annulé")
    transfers = _locked(
        select(PayoutTransfer)
        .where(
            col(PayoutTransfer.batch_id) == batch.id,
            col(PayoutTransfer.status) == TransferStatus.pending,
        )
        .order_by(col(PayoutTransfer.end_to_end_id))
    )
    pending = list((await session.execute(transfers)).scalars())
    total = sum(t.amount_cents for t in pending)
    if not pending or total != entry.amount_cents:
        return _unmatched(
            f"Lot {reference} : total différent ({euros(entry.amount_cents)} au lieu de "
            f"{euros(total)} en attente)"
        )
    count = entry.batch_transaction_count
    if count is not None and count != len(pending):
        return _unmatched(f"Lot {reference} : {count} virements au lieu de {len(pending)}")
    return _Outcome(Action.settle, f"Lot {reference} réglé", [(t, None) for t in pending])


async def _apply(
    session: AsyncSession, entry: camt.Entry, outcome: _Outcome, result: ImportedStatement
) -> None:
    booked_on = entry.booking_date or clock.paris_today()
    for transfer, reason in outcome.matches:
        if outcome.action is Action.settle:
            await settle_transfer(session, transfer, booked_on)
            result.settled.append(transfer.end_to_end_id)
        else:
            await return_transfer(session, transfer, reason, booked_on)
            result.returned.append(transfer.end_to_end_id)


def _line(import_id: int, entry: camt.Entry, outcome: _Outcome) -> StatementLine:
    transfers = [transfer for transfer, _ in outcome.matches]
    return StatementLine(
        import_id=import_id,
        entry_ref=(entry.entry_ref or "")[:35] or None,
        amount_cents=entry.amount_cents,
        credit_debit=entry.credit_debit,
        matched=bool(transfers),
        matched_transfer_id=transfers[0].id if len(transfers) == 1 else None,
        note=outcome.note[:300],
    )


async def _transfers_named(
    session: AsyncSession, statement: camt.Statement
) -> dict[str, PayoutTransfer]:
    """Every transfer the statement names by EndToEndId, read in a few queries and locked
    until the import commits (in EndToEndId order, the same for every import): a
    statement imported at the same moment waits, then sees them settled."""
    ids = sorted(
        {tx.end_to_end_id for e in statement.entries for tx in e.transactions if tx.end_to_end_id}
    )
    found: dict[str, PayoutTransfer] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        query = _locked(
            select(PayoutTransfer)
            .where(col(PayoutTransfer.end_to_end_id).in_(ids[start : start + LOOKUP_CHUNK]))
            .order_by(col(PayoutTransfer.end_to_end_id))
        )
        found.update((t.end_to_end_id, t) for t in (await session.execute(query)).scalars())
    return found


def _locked(query: Select[PayoutTransfer]) -> Select[PayoutTransfer]:
    """Rows locked for the transaction (PostgreSQL; SQLite's writers take turns anyway),
    with the values committed by whoever held the lock before."""
    return query.with_for_update().execution_options(populate_existing=True)


async def _redemptions_of(session: AsyncSession, transfer_id: int) -> list[Redemption]:
    query = (
        select(Redemption)
        .join(PayoutItem, col(PayoutItem.redemption_id) == col(Redemption.id))
        .where(col(PayoutItem.transfer_id) == transfer_id)
        .order_by(col(Redemption.id))
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
        update(Redemption).where(col(Redemption.id).in_(ids)).values(payout_state=PayoutState.paid)
    )
    await session.flush()
    voucher_ids = sorted({r.voucher_id for r in redemptions})
    payable = []
    for voucher_id in voucher_ids:
        voucher = await session.get(Voucher, voucher_id)
        if voucher is None or voucher.status is not VoucherStatus.redeemed:
            continue
        query = select(col(Redemption.id)).where(
            col(Redemption.voucher_id) == voucher_id,
            col(Redemption.status) == RedemptionStatus.active,
            col(Redemption.payout_state) != PayoutState.paid,
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
        query = select(col(Voucher.id)).where(
            col(Voucher.id).in_(
                select(col(Redemption.voucher_id)).where(col(Redemption.id).in_(redemption_ids))
            ),
            col(Voucher.status) == VoucherStatus.paid,
        )
        # Stored ids are NOT NULL; the model's `int | None` is for rows not yet flushed.
        unpaid = cast(list[int], list((await session.execute(query)).scalars()))
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
    query = select(col(PayoutTransfer.status)).where(col(PayoutTransfer.batch_id) == batch_id)
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
