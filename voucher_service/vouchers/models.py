from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime, enum_column


class VoucherStatus(StrEnum):
    issued = "issued"
    partially_redeemed = "partially_redeemed"
    redeemed = "redeemed"
    paid = "paid"
    expired = "expired"
    cancelled = "cancelled"


SPENDABLE = (VoucherStatus.issued, VoucherStatus.partially_redeemed)
REDEEMED = (VoucherStatus.partially_redeemed, VoucherStatus.redeemed)


class VoucherBase(SQLModel):
    code: str = Field(max_length=32, unique=True)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    application_id: int = Field(index=True)  # no FK: applications is its own domain
    company_name: str = Field(max_length=200)
    siret: str = Field(max_length=14)
    beneficiary_email: str = Field(max_length=254)
    amount_cents: int
    balance_cents: int
    valid_from: date
    valid_until: date  # inclusive, to the end of that day in Europe/Paris


class Voucher(VoucherBase, table=True):
    """A cheque. ``balance_cents`` is what is left unredeemed; once a cheque is cancelled
    or expired, it is the amount that went back to the programme's envelope."""

    __tablename__ = "voucher"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "balance_cents >= 0 AND balance_cents <= amount_cents", name="balance_within_amount"
        ),
        CheckConstraint("valid_until >= valid_from", name="validity_in_order"),
        Index("ix_voucher_status_valid_until", "status", "valid_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: VoucherStatus = Field(default=VoucherStatus.issued, sa_type=enum_column(VoucherStatus))
    token: str = Field(default="", max_length=512)
    key_id: str = Field(default="", max_length=32, index=True)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    redeemed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str | None = Field(default=None, max_length=500)

    def status_on(self, today: date) -> VoucherStatus:
        """The status as people should see it: a spendable cheque past its date is expired,
        even before the sweep has recorded it."""
        if self.status in SPENDABLE and self.valid_until < today:
            return VoucherStatus.expired
        return self.status


class VoucherEvent(SQLModel, table=True):
    """One step of a cheque's history, written with its audit event."""

    __tablename__ = "voucher_event"

    id: int | None = Field(default=None, primary_key=True)
    voucher_id: int = Field(foreign_key="voucher.id", index=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    action: str = Field(max_length=40)
    status: VoucherStatus = Field(sa_type=enum_column(VoucherStatus))
    amount_cents: int | None = None
    balance_cents: int
    actor_role: str = Field(max_length=20)
    actor_label: str = Field(max_length=254)
    reason: str | None = Field(default=None, max_length=500)


class SigningKey(SQLModel, table=True):
    """An Ed25519 key that signs cheque tokens. The private half is encrypted under a key
    derived from MCD_SECRET_KEY; the newest key that is not retired signs new cheques."""

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    kid: str = Field(max_length=32, unique=True)
    public_key: str = Field(max_length=64)  # base64url of the 32 raw bytes (the JWK's x)
    private_key_encrypted: str = Field(max_length=200)  # base64url(nonce ‖ AES-GCM ciphertext)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
