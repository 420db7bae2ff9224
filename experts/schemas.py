from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret as stdnum_siret

from experts.models import Accreditation, PayoutState, RedemptionStatus
from voucher_service.core.formatting import number_refusal
from voucher_service.core.types import IsoDate, StrictInt
from voucher_service.programmes.schemas import Department, Theme

SEPA_COUNTRIES = frozenset(
    "AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL "
    "PT RO SE SI SK SM VA AD".split()
)


def valid_siret(value: str) -> str:
    try:
        return str(stdnum_siret.validate(value))
    except StdnumError as error:
        raise ValueError(number_refusal("SIRET", error)) from None


def valid_iban(value: str) -> str:
    try:
        iban = str(stdnum_iban.validate(value))
    except StdnumError as error:
        raise ValueError(number_refusal("IBAN", error)) from None
    if iban[:2] not in SEPA_COUNTRIES:
        raise ValueError("IBAN hors de la zone SEPA")
    return iban


def valid_bic(value: str) -> str:
    try:
        return str(stdnum_bic.validate(value))
    except StdnumError as error:
        raise ValueError(number_refusal("BIC", error)) from None


Siret = Annotated[str, AfterValidator(valid_siret)]
Iban = Annotated[str, AfterValidator(valid_iban)]
Bic = Annotated[str, AfterValidator(valid_bic)]


class BankDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iban: Iban
    bic: Bic


class ExpertCreate(BankDetails):
    siret: Siret
    name: str = Field(min_length=2, max_length=200, description="Legal name")
    contact_name: str = Field(default="", max_length=200)
    email: EmailStr
    phone: str | None = Field(default=None, max_length=20)
    themes: list[str] = Field(min_length=1, max_length=30)
    departments: list[Department] = Field(
        default_factory=list, max_length=120, description="Where the expert coaches"
    )
    password: str | None = Field(
        default=None,
        min_length=12,
        max_length=200,
        description="Without one, an invitation e-mail is sent",
    )


Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Field(description="Told to the expert by e-mail"),
]


class Decision(BaseModel):
    """An accreditation decision or a refusal of bank details: the expert is told why."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason


class ExpertFilters(BaseModel):
    """What the back office narrows the experts to; all of them when empty."""

    status: Accreditation | None = None
    theme: Theme | None = None
    department: Department | None = None
    q: str | None = Field(default=None, max_length=200, description="Name, SIRET or e-mail")


class AccreditationChangePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: Accreditation | None
    to_status: Accreditation
    decided_by: int | None
    reason: str | None
    decided_at: datetime


class ExpertPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    siret: str
    legal_name: str
    contact_name: str
    email: str
    phone: str | None
    iban: str
    bic: str
    pending_iban: str | None
    pending_bic: str | None
    themes: list[str]
    departments: list[str]
    status: Accreditation
    status_changed_at: datetime


class ExpertDetail(ExpertPublic):
    history: list[AccreditationChangePublic]


class VoucherPresented(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=4,
        max_length=2048,
        description="What the QR says (its URL or token), or the typed code",
    )


class VoucherCheck(BaseModel):
    """What an expert sees before redeeming: no personal data beyond the company name."""

    code: str
    company_name: str
    amount_cents: int
    balance_cents: int
    valid_from: date
    valid_until: date
    status: str
    redeemable: bool
    reason: str | None = None


class RedemptionCreate(VoucherPresented):
    amount_cents: StrictInt | None = Field(
        default=None, gt=0, le=10_000_000, description="Default: the whole balance"
    )
    coaching_date: IsoDate
    invoice_reference: str = Field(min_length=1, max_length=64)


class RedemptionPublic(BaseModel):
    id: int
    voucher_code: str
    company_name: str
    amount_cents: int
    voucher_balance_cents: int
    coaching_date: date
    invoice_reference: str
    status: RedemptionStatus
    payout_state: PayoutState
    redeemed_at: datetime
    cancel_until: datetime
    cancelled_at: datetime | None
