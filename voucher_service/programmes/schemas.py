import re
from datetime import date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

DEPARTMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$")
THEME = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cheque_amount_cents: int = Field(gt=0, le=10_000_000)
    opens_on: date
    closes_on: date
    cheque_validity_days: int = Field(default=180, gt=0, le=1095)
    departments: list[str] = Field(min_length=1, max_length=120)
    max_headcount: int = Field(gt=0, le=100_000)
    max_turnover_eur: int = Field(gt=0, le=10_000_000_000)
    max_de_minimis_eur: int = Field(default=300_000, ge=0, le=10_000_000)
    themes: list[str] = Field(min_length=1, max_length=30)

    @field_validator("departments")
    @classmethod
    def known_departments(cls, value: list[str]) -> list[str]:
        wrong = [code for code in value if not DEPARTMENT.match(code)]
        if wrong:
            raise ValueError(f"unknown department codes: {', '.join(wrong)}")
        return sorted(set(value))

    @field_validator("themes")
    @classmethod
    def slug_themes(cls, value: list[str]) -> list[str]:
        wrong = [theme for theme in value if not THEME.match(theme)]
        if wrong:
            raise ValueError(f"themes are lowercase slugs: {', '.join(wrong)}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def window_in_order(self) -> Self:
        if self.closes_on < self.opens_on:
            raise ValueError("closes_on is before opens_on")
        return self


class ProgrammeCreate(RulesIn):
    name: str = Field(min_length=3, max_length=120)
    budget_cents: int = Field(gt=0, le=100_000_000_000)
    contact_email: EmailStr = "moncoachdigital@maregionsud.fr"

    @model_validator(mode="after")
    def budget_holds_a_cheque(self) -> Self:
        if self.budget_cents < self.cheque_amount_cents:
            raise ValueError("budget_cents is smaller than one cheque")
        return self


class ProgrammeUpdate(BaseModel):
    """Any subset of the fields; rules changes make a new rules version."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=3, max_length=120)
    budget_cents: int | None = Field(default=None, gt=0, le=100_000_000_000)
    contact_email: EmailStr | None = None
    cheque_amount_cents: int | None = Field(default=None, gt=0, le=10_000_000)
    opens_on: date | None = None
    closes_on: date | None = None
    cheque_validity_days: int | None = Field(default=None, gt=0, le=1095)
    departments: list[str] | None = Field(default=None, min_length=1, max_length=120)
    max_headcount: int | None = Field(default=None, gt=0, le=100_000)
    max_turnover_eur: int | None = Field(default=None, gt=0, le=10_000_000_000)
    max_de_minimis_eur: int | None = Field(default=None, ge=0, le=10_000_000)
    themes: list[str] | None = Field(default=None, min_length=1, max_length=30)


class ProgrammePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    contact_email: str
    cheque_amount_cents: int
    budget_cents: int
    committed_cents: int
    balance_cents: int
    opens_on: date
    closes_on: date
    cheque_validity_days: int
    departments: list[str]
    max_headcount: int
    max_turnover_eur: int
    max_de_minimis_eur: int
    themes: list[str]
    rules_version: int
    created_at: datetime
    updated_at: datetime
