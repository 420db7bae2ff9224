from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime


class ProgrammeRules(SQLModel):
    """What eligibility is decided on; every edit makes a new rules version."""

    cheque_amount_cents: int = Field(gt=0, sa_type=BigInteger)
    opens_on: date
    closes_on: date
    cheque_validity_days: int = Field(gt=0, le=1095)
    departments: list[str] = Field(sa_column=Column(JSON, nullable=False))
    max_headcount: int = Field(gt=0)
    max_turnover_eur: int = Field(gt=0, sa_type=BigInteger)
    max_de_minimis_eur: int = Field(default=300_000, ge=0, sa_type=BigInteger)
    themes: list[str] = Field(sa_column=Column(JSON, nullable=False))


class Programme(ProgrammeRules, table=True):
    __tablename__ = "programme"
    __table_args__ = (
        CheckConstraint("committed_cents >= 0", name="committed_not_negative"),
        CheckConstraint("committed_cents <= budget_cents", name="committed_within_budget"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    contact_email: str = Field(max_length=254)
    budget_cents: int = Field(gt=0, sa_type=BigInteger)
    committed_cents: int = Field(default=0, sa_type=BigInteger)
    rules_version: int = 1
    # Set when an administrator closes the programme to new applications before closes_on.
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def balance_cents(self) -> int:
        return self.budget_cents - self.committed_cents

    def rules(self) -> dict[str, Any]:
        return ProgrammeRules.model_validate(self, from_attributes=True).model_dump(mode="json")

    def is_open(self, today: date) -> bool:
        return self.closed_at is None and self.opens_on <= today <= self.closes_on

    def has_opened(self, today: date) -> bool:
        """Whether applications may already have been decided under its rules."""
        return self.opens_on <= today


class ProgrammeRulesVersion(SQLModel, table=True):
    """The rules as they stood at one version, so that old decisions can be explained."""

    __tablename__ = "programme_rules_version"
    __table_args__ = (UniqueConstraint("programme_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    version: int
    rules: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
