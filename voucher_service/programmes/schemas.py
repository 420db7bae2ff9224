import re
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from voucher_service.core.types import IsoDate, StrictInt

DEPARTMENT = re.compile(r"^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6])$")
THEME = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
Department = Annotated[str, StringConstraints(pattern=DEPARTMENT.pattern)]
Theme = Annotated[str, StringConstraints(pattern=THEME.pattern)]


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cheque_amount_cents: StrictInt = Field(gt=0, le=10_000_000)
    opens_on: IsoDate
    closes_on: IsoDate
    cheque_validity_days: StrictInt = Field(default=180, gt=0, le=1095)
    departments: list[Department] = Field(min_length=1, max_length=120)
    max_headcount: StrictInt = Field(gt=0, le=100_000)
    max_turnover_eur: StrictInt = Field(gt=0, le=10_000_000_000)
    max_de_minimis_eur: StrictInt = Field(default=300_000, ge=0, le=10_000_000)
    themes: list[Theme] = Field(min_length=1, max_length=30)

    @field_validator("departments")
    @classmethod
    def sorted_departments(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("themes")
    @classmethod
    def distinct_themes(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def window_in_order(self) -> Self:
        if self.closes_on < self.opens_on:
            raise PydanticCustomError("window_order", "closes_on is before opens_on")
        return self


class ProgrammeCreate(RulesIn):
    name: str = Field(min_length=3, max_length=120)
    budget_cents: StrictInt = Field(gt=0, le=100_000_000_000)
    contact_email: EmailStr = "moncoachdigital@maregionsud.fr"

    @model_validator(mode="after")
    def budget_holds_a_cheque(self) -> Self:
        if self.budget_cents < self.cheque_amount_cents:
            raise PydanticCustomError(
                "budget_below_cheque", "budget_cents is smaller than one cheque"
            )
        return self


class ProgrammeUpdate(BaseModel):
    """Any subset of the fields; rules changes make a new rules version."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=3, max_length=120)
    budget_cents: StrictInt | None = Field(default=None, gt=0, le=100_000_000_000)
    contact_email: EmailStr | None = None
    cheque_amount_cents: StrictInt | None = Field(default=None, gt=0, le=10_000_000)
    opens_on: IsoDate | None = None
    closes_on: IsoDate | None = None
    cheque_validity_days: StrictInt | None = Field(default=None, gt=0, le=1095)
    departments: list[Department] | None = Field(default=None, min_length=1, max_length=120)
    max_headcount: StrictInt | None = Field(default=None, gt=0, le=100_000)
    max_turnover_eur: StrictInt | None = Field(default=None, gt=0, le=10_000_000_000)
    max_de_minimis_eur: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    themes: list[Theme] | None = Field(default=None, min_length=1, max_length=30)


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
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
