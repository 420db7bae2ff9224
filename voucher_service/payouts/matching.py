"""Classifying one bank statement entry: which transfers it settles or returns, or why
none, in French. Nothing is changed here; the statement import applies the outcome.

An entry moves transfers only when its direction, its amount and their state agree: a
booked debit settles pending transfers whose total is its amount, a booked credit marked
as a return (or a rejection) returns transfers of its amount that were settled or still
pending."""

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core.formatting import euros
from voucher_service.payouts import camt, repository
from voucher_service.payouts.models import BatchStatus, PayoutTransfer, TransferStatus


class Action(StrEnum):
    settle = "settle"
    give_back = "return"
    none = "none"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one entry does: settle or return these transfers (each with the return reason
    the bank gave), or nothing, and why."""

    action: Action
    note: str
    matches: list[tuple[PayoutTransfer, str | None]] = field(default_factory=list)


def unmatched(note: str) -> Outcome:
    return Outcome(Action.none, note[:300])


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
NO_TRANSFER = "Aucun virement correspondant"


def named_end_to_end_ids(statement: camt.Statement) -> set[str]:
    """Every EndToEndId the statement names, in any entry."""
    return {
        tx.end_to_end_id for e in statement.entries for tx in e.transactions if tx.end_to_end_id
    }


async def classify(
    session: AsyncSession, entry: camt.Entry, known: dict[str, PayoutTransfer]
) -> Outcome:
    """Which transfers an entry settles or returns; nothing unless amount, direction and
    the transfers' state all agree. ``known`` holds the transfers the statement names."""
    if entry.currency != "EUR":
        return unmatched(f"Écriture en {entry.currency} : seuls les euros sont rapprochés")
    if entry.status == "RJCT" or entry.is_return:
        return _classify_return(entry, known)
    return await _classify_debit(session, entry, known)


def _classify_return(entry: camt.Entry, known: dict[str, PayoutTransfer]) -> Outcome:
    """A rejection finds its transfers pending; a booked return credit finds them pending
    or settled; any other return is left for a person."""
    if entry.status == "RJCT":
        return _by_end_to_end(entry, known, Action.give_back, REJECTABLE)
    if entry.credit_debit == "CRDT" and entry.status == "BOOK":
        return _by_end_to_end(entry, known, Action.give_back, RETURNABLE)
    return unmatched(f"Retour non pris en compte ({entry.credit_debit} {entry.status})")


async def _classify_debit(
    session: AsyncSession, entry: camt.Entry, known: dict[str, PayoutTransfer]
) -> Outcome:
    """A booked debit settles the transfers it names, or the batch it names."""
    if entry.credit_debit != "DBIT" or entry.status != "BOOK":
        return unmatched(f"Hors virements de paiement ({entry.credit_debit} {entry.status})")
    if any(tx.end_to_end_id for tx in entry.transactions):
        return _by_end_to_end(entry, known, Action.settle, SETTLEABLE)
    references = [r for r in (entry.batch_message_id, entry.batch_payment_id) if r]
    if references:
        return await _by_batch(session, entry, references)
    return unmatched(NO_TRANSFER)


def _by_end_to_end(
    entry: camt.Entry,
    known: dict[str, PayoutTransfer],
    action: Action,
    allowed: frozenset[TransferStatus],
) -> Outcome:
    """The transfers the entry names, each found, of the amount the bank gives and in an
    allowed state, their total being the entry's amount; else none of them."""
    named = [tx for tx in entry.transactions if tx.end_to_end_id]
    problem = _naming_problem(named, known, allowed)
    if problem:
        return unmatched(problem)
    ids = [str(tx.end_to_end_id) for tx in named]
    matches = [
        (known[e2e], tx.return_reason or entry.return_reason)
        for e2e, tx in zip(ids, named, strict=True)
    ]
    total = sum(transfer.amount_cents for transfer, _ in matches)
    if total != entry.amount_cents:
        return unmatched(
            f"Montant de l'écriture {euros(entry.amount_cents)} différent du total des "
            f"virements nommés {euros(total)}"
        )
    if action is Action.settle:
        return Outcome(action, "Réglé : " + ", ".join(ids), matches)
    reason = entry.return_reason or entry.status
    return Outcome(action, f"Retour ({reason}) : " + ", ".join(ids), matches)


def _naming_problem(
    named: list[camt.EntryTransaction],
    known: dict[str, PayoutTransfer],
    allowed: frozenset[TransferStatus],
) -> str | None:
    """Why the transfers an entry names cannot all move, in French; None when they can."""
    if not named:
        return NO_TRANSFER
    ids = [str(tx.end_to_end_id) for tx in named]
    if len(set(ids)) != len(ids):
        return "Un virement est nommé deux fois dans l'écriture"
    problems = [
        p for tx in named if (p := _mismatch(tx, known.get(str(tx.end_to_end_id)), allowed))
    ]
    return "; ".join(problems) or None


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


async def _by_batch(session: AsyncSession, entry: camt.Entry, references: list[str]) -> Outcome:
    """A whole batch booked as one debit, named by the file's MsgId or its PmtInfId (the
    same in our files): every pending transfer of it, as many as the bank counts, their
    total being the entry's amount."""
    batch = await repository.batch_named(session, references)
    if batch is None:
        return unmatched(f"Lot {' / '.join(references)} inconnu")
    reference = batch.message_id
    if batch.status is BatchStatus.cancelled:
        return unmatched(f"Lot {reference} annulé")
    assert batch.id is not None
    pending = await repository.lock_pending_transfers(session, batch.id)
    total = sum(t.amount_cents for t in pending)
    if not pending or total != entry.amount_cents:
        return unmatched(
            f"Lot {reference} : total différent ({euros(entry.amount_cents)} au lieu de "
            f"{euros(total)} en attente)"
        )
    count = entry.batch_transaction_count
    if count is not None and count != len(pending):
        return unmatched(f"Lot {reference} : {count} virements au lieu de {len(pending)}")
    return Outcome(Action.settle, f"Lot {reference} réglé", [(t, None) for t in pending])
