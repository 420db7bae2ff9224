from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime, enum_column


class ApplicationStatus(StrEnum):
    eligible = "eligible"
    needs_review = "needs_review"
    correction_requested = "correction_requested"
    ineligible = "ineligible"
    approved = "approved"
    rejected = "rejected"


# An application in one of these states holds its company's place in the programme.
LIVE_STATUSES = (
    ApplicationStatus.eligible,
    ApplicationStatus.needs_review,
    ApplicationStatus.correction_requested,
    ApplicationStatus.approved,
)
# Waiting for a decision by staff: approvable, refusable, checked again, open to a request.
PENDING_STATUSES = (ApplicationStatus.eligible, ApplicationStatus.needs_review)
# Refusable: pending, or waiting for the applicant's correction (which may never come).
REFUSABLE_STATUSES = (*PENDING_STATUSES, ApplicationStatus.correction_requested)
LIVE_SQL = "status IN ('eligible', 'needs_review', 'correction_requested', 'approved')"
_LIVE_SQL = text(LIVE_SQL)


class Application(SQLModel, table=True):
    __tablename__ = "application"
    __table_args__ = (
        Index(
            "uq_application_live_siren",
            "programme_id",
            "siren",
            unique=True,
            sqlite_where=_LIVE_SQL,
            postgresql_where=_LIVE_SQL,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    rules_version: int
    status: ApplicationStatus = Field(sa_type=enum_column(ApplicationStatus), index=True)
    status_token: str = Field(max_length=64, unique=True)

    siret: str = Field(max_length=14)
    siren: str = Field(max_length=9, index=True)
    company_name: str = Field(max_length=200)
    theme: str = Field(max_length=40, index=True)
    department: str | None = Field(default=None, max_length=3, index=True)
    headcount: int
    annual_turnover_eur: int
    de_minimis_aid_eur: int
    de_minimis_attested: bool

    # Personal data: anonymised by `voucher-service purge` after the retention period.
    contact_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20)
    consented_at: datetime = Field(sa_type=UTCDateTime)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    eligibility: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    decision_reason: str | None = Field(default=None, max_length=1000)


STATUS_LABELS = {
    ApplicationStatus.eligible: "éligible, en attente de validation",
    ApplicationStatus.needs_review: "à examiner par un instructeur",
    ApplicationStatus.correction_requested: "en attente d'un complément du demandeur",
    ApplicationStatus.ineligible: "inéligible",
    ApplicationStatus.approved: "approuvée",
    ApplicationStatus.rejected: "refusée",
}


class StatusLinkRequest(SQLModel, table=True):
    """Every request to have the status link sent again, whether or not an application
    matches: the throttle counts them. The SIRET and e-mail are kept only as a hash."""

    __tablename__ = "status_link_request"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, index=True)
    address: str = Field(max_length=64, index=True)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class ExchangeKind(StrEnum):
    correction_request = "correction_request"  # staff ask the applicant for something
    correction_answer = "correction_answer"  # the applicant's reply, from the status page


class ApplicationNote(SQLModel, table=True):
    """A private note by staff on an application: never shown to the applicant."""

    __tablename__ = "application_note"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    author_id: int = Field(foreign_key="user_account.id")
    text: str = Field(max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApplicationExchange(SQLModel, table=True):
    """What staff asked the applicant and what the applicant answered, in order."""

    __tablename__ = "application_exchange"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    kind: ExchangeKind = Field(sa_type=enum_column(ExchangeKind))
    text: str = Field(max_length=2000)
    author_id: int | None = Field(default=None, foreign_key="user_account.id")  # None: applicant
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
