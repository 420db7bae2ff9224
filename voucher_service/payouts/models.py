"""Payout batches, their SEPA transfers and the bank statements that settle them.

A redemption is in at most one live batch: ``PayoutItem.live_redemption_id`` repeats the
redemption id while the item counts and is set to NULL when its batch is cancelled or its
transfer returned; it is unique, and both engines allow many NULLs in a unique column.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime, enum_column


class BatchStatus(StrEnum):
    draft = "draft"
    exported = "exported"
    settled = "settled"
    partially_settled = "partially_settled"
    cancelled = "cancelled"


class TransferStatus(StrEnum):
    pending = "pending"
    settled = "settled"
    returned = "returned"
    cancelled = "cancelled"  # its batch was cancelled before going to the bank


class PayoutBatch(SQLModel, table=True):
    __tablename__ = "payout_batch"

    id: int | None = Field(default=None, primary_key=True)
    status: BatchStatus = Field(default=BatchStatus.draft, sa_type=enum_column(BatchStatus))
    cut_off: date
    total_cents: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    exported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who gathered the batch and, under four eyes, the other person who approved it.
    prepared_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    approved_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The creation time of the SEPA file, set by the first download of each Paris day.
    file_created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message_id: str = Field(default="", max_length=35, index=True)


class PayoutTransfer(SQLModel, table=True):
    __tablename__ = "payout_transfer"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="payout_batch.id", index=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    amount_cents: int = Field(sa_type=BigInteger)
    end_to_end_id: str = Field(max_length=35, unique=True)
    creditor_name: str = Field(max_length=200)
    iban: str = Field(max_length=34)
    bic: str = Field(max_length=11)
    remittance: str = Field(max_length=140)
    status: TransferStatus = Field(
        default=TransferStatus.pending, sa_type=enum_column(TransferStatus)
    )
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    return_reason: str | None = Field(default=None, max_length=35)


class PayoutItem(SQLModel, table=True):
    __tablename__ = "payout_item"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="payout_transfer.id", index=True)
    redemption_id: int = Field(foreign_key="redemption.id", index=True)
    live_redemption_id: int | None = Field(default=None, unique=True)
    amount_cents: int = Field(sa_type=BigInteger)


class BankStatementImport(SQLModel, table=True):
    """One imported statement, known by its account and its ``Stmt/Id``: two accounts'
    statements may share an id."""

    __tablename__ = "bank_statement_import"
    __table_args__ = (UniqueConstraint("account_iban", "statement_id"),)

    id: int | None = Field(default=None, primary_key=True)
    statement_id: str = Field(max_length=35)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    account_iban: str = Field(max_length=34)
    raw_digest: str = Field(max_length=64)


class StatementLine(SQLModel, table=True):
    __tablename__ = "statement_line"

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="bank_statement_import.id", index=True)
    entry_ref: str | None = Field(default=None, max_length=35)
    amount_cents: int = Field(sa_type=BigInteger)
    credit_debit: str = Field(max_length=4)
    matched: bool = False
    matched_transfer_id: int | None = Field(default=None, foreign_key="payout_transfer.id")
    note: str = Field(default="", max_length=300)
