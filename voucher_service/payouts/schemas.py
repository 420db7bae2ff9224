from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from voucher_service.core.types import IsoDate
from voucher_service.payouts.models import BatchStatus, TransferStatus


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cut_off: IsoDate = Field(description="Redemptions made up to the end of this day (Paris)")


class TransferPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    expert_id: int
    amount_cents: int
    end_to_end_id: str
    creditor_name: str
    creditor_name_sepa: str = Field(description="The name as it goes in the SEPA file")
    iban: str
    bic: str
    remittance: str
    status: TransferStatus
    settled_at: datetime | None
    return_reason: str | None


class BatchSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: BatchStatus
    cut_off: date
    total_cents: int
    message_id: str
    created_at: datetime
    exported_at: datetime | None
    settled_at: datetime | None
    cancelled_at: datetime | None
    prepared_by_id: int | None
    approved_by_id: int | None
    approved_at: datetime | None


class BatchPublic(BatchSummary):
    transfers: list[TransferPublic]


class BatchPage(BaseModel):
    items: list[BatchSummary]
    total: int
    page: int
    page_size: int


class StatementLinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_ref: str | None
    amount_cents: int
    credit_debit: str
    matched: bool
    matched_transfer_id: int | None
    note: str


class StatementResult(BaseModel):
    statement_id: str
    already_imported: bool
    account_iban: str = Field(description="The statement's account, IBAN compacted")
    paying_account: bool = Field(
        description="Whether it is the paying account: only its statements settle anything"
    )
    settled: list[str] = Field(description="EndToEndIds settled by this import")
    returned: list[str] = Field(description="EndToEndIds returned by this import")
    matched: list[StatementLinePublic]
    unmatched: list[StatementLinePublic]


class StatementImportResult(BaseModel):
    statements: list[StatementResult]
