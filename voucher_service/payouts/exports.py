"""The accountant's exports, streamed: the reconciliation CSV (one row per cheque issued
in the period) and the FEC (commitments, expenses, payments).

Rows are read from the database in chunks (``session.stream`` partitions), so memory stays
flat whatever the period.
"""

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, Select, Subquery, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import PayoutState, Redemption, RedemptionStatus
from voucher_service.core import clock, ledger
from voucher_service.core.clock import PARIS, paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.ledger import Account, Journal, LedgerEntry
from voucher_service.payouts.csv_export import Money, Siret, write_csv
from voucher_service.payouts.fec import FecStream, JournalEntry, Line
from voucher_service.payouts.models import PayoutItem, PayoutTransfer, TransferStatus
from voucher_service.vouchers.models import SPENDABLE, Voucher, VoucherStatus

# Rows formatted between two awaits: small, so that the requests served by the same process
# never wait long behind an export (a few milliseconds a chunk).
CHUNK = 100
RECONCILED_COLUMNS = (
    col(Voucher.id),
    col(Voucher.code),
    col(Voucher.company_name),
    col(Voucher.siret),
    col(Voucher.amount_cents),
    col(Voucher.balance_cents),
    col(Voucher.issued_at),
    col(Voucher.valid_until),
    col(Voucher.status),
)
OVERDUE_DAYS = 60
RECONCILIATION_HEADER = (
    "Code",
    "Bénéficiaire",
    "SIRET",
    "Montant",
    "Émis le",
    "Montant utilisé",
    "Montant payé",
    "Solde non utilisé",
    "État",
    "Motif",
)
# What a cheque's balance became once it can no longer be spent: back to the envelope.
BALANCE_RELEASED = (VoucherStatus.expired, VoucherStatus.cancelled)
UNUSED_STATES = {
    VoucherStatus.expired: "expiré",
    VoucherStatus.cancelled: "annulé",
}


def paris_day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=PARIS)


def _paris_date(value: datetime) -> date:
    return value.astimezone(PARIS).date()


# Reconciliation


async def reconciliation_rows(
    session: AsyncSession, start: date, end: date
) -> AsyncIterator[list[list[object]]]:
    """The CSV rows, a chunk at a time, oldest cheque first, from ONE streamed query that
    brings each cheque with its sums: no query per chunk, no entity in the identity map."""
    query = _reconciled(paris_day_start(start), clock.end_of_paris_day(end)).execution_options(
        yield_per=CHUNK
    )
    result = await session.stream(query)
    today = paris_today()
    async for partition in result.partitions(CHUNK):
        yield [_reconciliation_row(row, today) for row in partition]


def _reconciled(since: datetime, until: datetime) -> Select[*tuple[Any, ...]]:
    """Each cheque issued in [since, until) with what was redeemed (active redemptions),
    what was paid (settled transfers), whether a redemption was paid twice and whether an
    active one is unpaid after OVERDUE_DAYS."""
    used, settled = _used_by_cheque(), _settled_items()
    paid, twice, overdue = _paid_by_cheque(settled), _paid_twice(settled), _overdue_cheques()
    return (
        select(
            *RECONCILED_COLUMNS,
            func.coalesce(used.c.cents, 0).label("used_cents"),
            func.coalesce(paid.c.cents, 0).label("paid_cents"),
            twice.c.voucher_id.is_not(None).label("paid_twice"),
            overdue.c.voucher_id.is_not(None).label("overdue"),
        )
        .outerjoin(used, used.c.voucher_id == Voucher.id)
        .outerjoin(paid, paid.c.voucher_id == Voucher.id)
        .outerjoin(twice, twice.c.voucher_id == Voucher.id)
        .outerjoin(overdue, overdue.c.voucher_id == Voucher.id)
        .where(col(Voucher.issued_at) >= since, col(Voucher.issued_at) < until)
        .order_by(col(Voucher.issued_at), col(Voucher.id))
    )


ACTIVE = col(Redemption.status) == RedemptionStatus.active


def _used_by_cheque() -> Subquery:
    """Per cheque, the cents of its active redemptions."""
    return (
        select(col(Redemption.voucher_id), func.sum(col(Redemption.amount_cents)).label("cents"))
        .where(ACTIVE)
        .group_by(col(Redemption.voucher_id))
        .subquery()
    )


def _settled_items() -> Subquery:
    """Every item of a settled transfer, with its cheque."""
    return (
        select(
            col(Redemption.voucher_id), col(PayoutItem.redemption_id), col(PayoutItem.amount_cents)
        )
        .join(PayoutItem, col(PayoutItem.redemption_id) == col(Redemption.id))
        .join(PayoutTransfer, col(PayoutTransfer.id) == col(PayoutItem.transfer_id))
        .where(col(PayoutTransfer.status) == TransferStatus.settled)
        .subquery()
    )


def _paid_by_cheque(settled: Subquery) -> Subquery:
    """Per cheque, the cents its settled transfers paid."""
    return (
        select(settled.c.voucher_id, func.sum(settled.c.amount_cents).label("cents"))
        .group_by(settled.c.voucher_id)
        .subquery()
    )


def _paid_twice(settled: Subquery) -> Subquery:
    """The cheques of which one redemption was paid by two settled transfers."""
    return (
        select(settled.c.voucher_id)
        .group_by(settled.c.voucher_id, settled.c.redemption_id)
        .having(func.count() > 1)
        .distinct()
        .subquery()
    )


def _overdue_cheques() -> Subquery:
    """The cheques with an active redemption still unpaid after OVERDUE_DAYS."""
    return (
        select(col(Redemption.voucher_id))
        .where(
            ACTIVE,
            col(Redemption.payout_state) != PayoutState.paid,
            col(Redemption.redeemed_at) < utcnow() - timedelta(days=OVERDUE_DAYS),
        )
        .distinct()
        .subquery()
    )


def _reconciliation_row(row: Row[Any], today: date) -> list[object]:
    used, paid = int(row.used_cents), int(row.paid_cents)
    status = row.status
    if status in SPENDABLE and row.valid_until < today:
        status = VoucherStatus.expired  # past its last day, before the sweep records it
    state, reasons = reconcile_state(
        status, used, paid, bool(row.paid_twice), bool(row.overdue), unused=row.balance_cents
    )
    return [
        row.code,
        row.company_name,
        Siret(row.siret),
        Money(row.amount_cents),
        _paris_date(row.issued_at),
        Money(used),
        Money(paid),
        Money(row.balance_cents),
        state,
        " ; ".join(reasons),
    ]


def reconcile_state(
    status: VoucherStatus,
    redeemed: int,
    paid: int,
    paid_twice: bool,
    overdue: bool,
    *,
    unused: int,
) -> tuple[str, list[str]]:
    """A cheque's state for people (French), and the reasons when it is « écart ».

    ``redeemed`` and ``paid`` are the active redemptions and the settled transfers, in
    cents; ``unused`` is the balance not redeemed. A cheque used in part is paid for what
    was used (« payé pour la part utilisée »); its balance stays usable until its last day,
    then goes back to the envelope (« solde libéré »)."""
    reasons = _discrepancies(status, redeemed, paid, paid_twice, overdue)
    if reasons:
        return "écart", reasons
    if not redeemed:
        state = UNUSED_STATES.get(status, "émis")
    elif paid < redeemed:
        state = "utilisé en partie, à payer" if unused else "utilisé, à payer"
    else:
        state = "payé pour la part utilisée" if unused else "payé"
    if unused and status in BALANCE_RELEASED:
        state += ", solde libéré"
    return state, []


def _discrepancies(
    status: VoucherStatus, redeemed: int, paid: int, paid_twice: bool, overdue: bool
) -> list[str]:
    reasons = []
    if paid_twice:
        reasons.append("payé deux fois")
    if paid and not redeemed:
        reasons.append("payé mais non utilisé")
    elif paid > redeemed or (status is VoucherStatus.paid and paid != redeemed):
        reasons.append("montant payé différent du montant utilisé")
    if overdue:
        reasons.append(f"utilisé il y a plus de {OVERDUE_DAYS} jours et impayé")
    return reasons


async def reconciliation_csv(session: AsyncSession, start: date, end: date) -> AsyncIterator[bytes]:
    first = True
    async for chunk in reconciliation_rows(session, start, end):
        pieces = write_csv(RECONCILIATION_HEADER, chunk)
        header = next(pieces)
        if first:
            yield header.encode()
            first = False
        yield "".join(pieces).encode()
    if first:
        yield next(write_csv(RECONCILIATION_HEADER, [])).encode()


# FEC


JOURNAL_LABELS = {
    Journal.commitments: "Engagements",
    Journal.expenses: "Prestations chèques",
    Journal.bank: "Banque",
}
ACCOUNT_LABELS = {
    Account.commitment: "Engagements chèques",
    Account.programme: "Enveloppe programme",
    Account.expense: "Subventions chèques numériques",
    Account.supplier: "Fournisseurs",
    Account.bank: "Banque",
}


async def journal_entries(
    session: AsyncSession, start: date, end: date, settings: Settings
) -> AsyncIterator[list[JournalEntry]]:
    """The ledger's entries dated in the period, in the order they were booked, in chunks:
    an entry booked later (a reversal, a late bank statement) comes after every line
    already exported, so earlier exports of the period stay a prefix of later ones."""
    query = ledger.entries_between(start, end).execution_options(yield_per=CHUNK)
    async for rows in (await session.stream(query)).scalars().partitions(CHUNK):
        yield [_journal_entry(entry, settings) for entry in rows]


def _account_number(account: Account, settings: Settings) -> str:
    numbers = {
        Account.commitment: settings.account_commitment,
        Account.programme: settings.account_programme,
        Account.expense: settings.account_expense,
        Account.supplier: settings.account_supplier,
        Account.bank: settings.account_bank,
    }
    return numbers[account]


def _journal_entry(entry: LedgerEntry, settings: Settings) -> JournalEntry:
    cents = entry.amount_cents
    debit, credit = entry.debit_account, entry.credit_account
    return JournalEntry(
        journal_code=entry.journal.value,
        journal_label=JOURNAL_LABELS[entry.journal],
        date=entry.entry_date,
        piece_ref=entry.piece_ref,
        label=entry.label,
        lines=[
            Line(
                _account_number(debit, settings),
                ACCOUNT_LABELS[debit],
                debit_cents=cents,
                aux_account=entry.debit_aux,
                aux_label=entry.debit_aux_label,
            ),
            Line(
                _account_number(credit, settings),
                ACCOUNT_LABELS[credit],
                credit_cents=cents,
                aux_account=entry.credit_aux,
                aux_label=entry.credit_aux_label,
            ),
        ],
        validated_on=clock.paris_today(entry.booked_at),
    )


async def fec_text(
    session: AsyncSession, start: date, end: date, settings: Settings
) -> AsyncIterator[str]:
    writer = FecStream()
    yield writer.header()
    async for chunk in journal_entries(session, start, end, settings):
        yield "".join(writer.lines(chunk))
