from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from voucher_service.core.auth.models import OneTimeLinkBase
from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime, enum_column


class Accreditation(StrEnum):
    pending = "pending"
    accredited = "accredited"
    suspended = "suspended"
    revoked = "revoked"


class Expert(SQLModel, table=True):
    __tablename__ = "expert"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", unique=True)
    siret: str = Field(max_length=14, index=True)
    legal_name: str = Field(max_length=200)
    contact_name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, max_length=20)
    iban: str = Field(max_length=34)
    bic: str = Field(max_length=11)
    pending_iban: str | None = Field(default=None, max_length=34)
    pending_bic: str | None = Field(default=None, max_length=11)
    themes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    departments: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    status: Accreditation = Field(default=Accreditation.pending, sa_type=enum_column(Accreditation))
    status_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AccreditationChange(SQLModel, table=True):
    """The accreditation history: who decided what, when and why."""

    __tablename__ = "accreditation_change"

    id: int | None = Field(default=None, primary_key=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    from_status: Accreditation | None = Field(default=None, sa_type=enum_column(Accreditation))
    to_status: Accreditation = Field(sa_type=enum_column(Accreditation))
    decided_by: int | None = Field(default=None, foreign_key="user_account.id")
    reason: str | None = Field(default=None, max_length=500)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Invitation(OneTimeLinkBase, table=True):
    """A one-time link for an invited expert to choose a first password."""

    __tablename__ = "invitation"


class RedemptionStatus(StrEnum):
    active = "active"
    cancelled = "cancelled"


class PayoutState(StrEnum):
    """Where the payment of a redemption stands; payouts moves it, experts only reads it."""

    unpaid = "unpaid"
    batched = "batched"
    paid = "paid"


class Redemption(SQLModel, table=True):
    __tablename__ = "redemption"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    voucher_id: int = Field(foreign_key="voucher.id", index=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    amount_cents: int = Field(sa_type=BigInteger)
    coaching_date: date
    invoice_reference: str = Field(max_length=64)
    status: RedemptionStatus = Field(
        default=RedemptionStatus.active, sa_type=enum_column(RedemptionStatus)
    )
    payout_state: PayoutState = Field(
        default=PayoutState.unpaid, sa_type=enum_column(PayoutState), index=True
    )
    redeemed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RedemptionAttempt(SQLModel, table=True):
    """A refused redemption: who tried what, and why it was refused."""

    __tablename__ = "redemption_attempt"

    id: int | None = Field(default=None, primary_key=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    presented: str = Field(max_length=200)
    code: str = Field(max_length=40)
    attempted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
