"""The accounting ledger: every entry booked once, when its event happens, and never
changed or removed afterwards.

Each event that moves money books one balanced entry in the transaction of the change: a
cheque issued commits its amount (ENG), a redemption is an expense owed to the expert
(ACH), a settled transfer pays it (BQ). Undoing one of them books a *new* entry that
mirrors it on the day of the undo (a cancelled or expired cheque releases its unused
balance, an undone redemption, a returned transfer), so that an export of a closed period
is the same whenever it is made. The database refuses an UPDATE or a DELETE of an entry.

An entry is identified by the event that booked it (``source``), unique: the same event
can never be booked twice. Accounts are stored as their role; the FEC export maps roles
to the account numbers of the settings.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime, enum_column


class Journal(StrEnum):
    commitments = "ENG"
    expenses = "ACH"
    bank = "BQ"


class Account(StrEnum):
    commitment = "commitment"
    programme = "programme"
    expense = "expense"
    supplier = "supplier"
    bank = "bank"


class LedgerEntry(SQLModel, table=True):
    """One entry of two lines: ``amount_cents`` debited on one account, credited on another."""

    __tablename__ = "ledger_entry"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=60, unique=True)
    journal: Journal = Field(sa_type=enum_column(Journal))
    entry_date: date = Field(index=True)
    booked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    piece_ref: str = Field(max_length=60)
    label: str = Field(max_length=200)
    amount_cents: int = Field(sa_type=BigInteger)
    debit_account: Account = Field(sa_type=enum_column(Account))
    debit_aux: str = Field(default="", max_length=20)
    debit_aux_label: str = Field(default="", max_length=200)
    credit_account: Account = Field(sa_type=enum_column(Account))
    credit_aux: str = Field(default="", max_length=20)
    credit_aux_label: str = Field(default="", max_length=200)
    reverses_id: int | None = Field(default=None, foreign_key="ledger_entry.id")


def side(account: Account, aux: str = "", aux_label: str = "") -> tuple[Account, str, str]:
    """An account and its auxiliary (third-party) account, as one side of an entry."""
    return account, aux, aux_label


def book(
    session: AsyncSession,
    source: str,
    journal: Journal,
    on: date,
    piece_ref: str,
    label: str,
    amount_cents: int,
    debit: tuple[Account, str, str],
    credit: tuple[Account, str, str],
) -> LedgerEntry:
    """Add the entry to the session: it goes in with the transaction's next flush."""
    entry = LedgerEntry(
        source=source,
        journal=journal,
        entry_date=on,
        piece_ref=piece_ref[:60],
        label=label[:200],
        amount_cents=amount_cents,
        debit_account=debit[0],
        debit_aux=debit[1],
        debit_aux_label=debit[2][:200],
        credit_account=credit[0],
        credit_aux=credit[1],
        credit_aux_label=credit[2][:200],
    )
    session.add(entry)
    return entry


async def reverse(
    session: AsyncSession,
    source: str,
    reason: str,
    on: date,
    label: str,
    amount_cents: int | None = None,
) -> LedgerEntry | None:
    """A new entry that mirrors the one ``source`` booked (all of it, or ``amount_cents``),
    booked as ``{source}:{reason}``; None when that event booked nothing."""
    query = select(LedgerEntry).where(col(LedgerEntry.source) == source)
    original = (await session.execute(query)).scalar_one_or_none()
    if original is None:
        return None
    mirror = book(
        session,
        f"{source}:{reason}",
        original.journal,
        on,
        original.piece_ref,
        label,
        original.amount_cents if amount_cents is None else amount_cents,
        debit=side(original.credit_account, original.credit_aux, original.credit_aux_label),
        credit=side(original.debit_account, original.debit_aux, original.debit_aux_label),
    )
    mirror.reverses_id = original.id
    return mirror


def entries_between(start: date, end: date) -> Select[LedgerEntry]:
    """The entries dated in [start, end], in the order they were booked."""
    return (
        select(LedgerEntry)
        .where(col(LedgerEntry.entry_date) >= start, col(LedgerEntry.entry_date) <= end)
        .order_by(col(LedgerEntry.booked_at), col(LedgerEntry.id))
    )
