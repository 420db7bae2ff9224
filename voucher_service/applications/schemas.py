import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError
from stdnum.fr import siret as siret_number

from voucher_service.applications.models import ApplicationStatus
from voucher_service.applications.review_schemas import HistoryEntry
from voucher_service.core.errors import Problem
from voucher_service.core.types import StrictInt

NOT_DIGITS = re.compile(r"[\s.\u00a0\u202f-]")


def _invalid(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def clean_siret(value: str) -> str:
    """The SIRET's 14 digits, spaces and dots dropped, or its French error."""
    siret = NOT_DIGITS.sub("", value)
    if not siret.isdigit() or len(siret) != 14:
        raise _invalid("siret_format", "Le SIRET compte 14 chiffres.")
    if not siret_number.is_valid(siret):
        raise _invalid("siret_checksum", "Ce numéro SIRET n'existe pas : vérifiez-le.")
    return siret


def clean_email(value: str) -> str:
    """The address normalised and in lower case, as applications store it."""
    try:
        address = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise _invalid("email_invalid", "Adresse e-mail invalide.") from None
    return address.normalized.lower()


# The SIRET and the e-mail as the form and the API type them, checked the same everywhere.
Siret = Annotated[
    str, Field(max_length=40, examples=["73282932000074"]), AfterValidator(clean_siret)
]
Email = Annotated[str, Field(max_length=254), AfterValidator(clean_email)]


class ApplicationCreate(BaseModel):
    """An application as the form and the API send it; more fields are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    programme_id: int | None = Field(
        default=None, gt=0, description="May be left out while exactly one programme is open."
    )
    siret: Siret
    company_name: str = Field(min_length=2, max_length=200)
    contact_name: str = Field(min_length=2, max_length=200)
    email: Email
    phone: str = Field(max_length=40, description="Stored in E.164; French numbers by default.")
    theme: str = Field(min_length=1, max_length=40)
    headcount: int = Field(ge=0, le=1_000_000, description="Employees (salariés)")
    annual_turnover_eur: int = Field(ge=0, le=100_000_000_000)
    de_minimis_aid_eur: int = Field(ge=0, le=100_000_000, description="Over the last 3 years")
    de_minimis_attestation: bool
    consent: bool

    @field_validator("headcount", "annual_turnover_eur", "de_minimis_aid_eur", mode="before")
    @classmethod
    def spaces_in_numbers(cls, value: Any) -> Any:
        return NOT_DIGITS.sub("", value) if isinstance(value, str) else value

    @field_validator("phone")
    @classmethod
    def valid_phone(cls, value: str) -> str:
        try:
            number = phonenumbers.parse(value, "FR")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise _invalid("phone_invalid", "Numéro de téléphone invalide.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("consent")
    @classmethod
    def consent_given(cls, value: bool) -> bool:
        if not value:
            raise _invalid(
                "consent_required", "Votre accord est nécessaire pour traiter la demande."
            )
        return value

    @field_validator("de_minimis_attestation")
    @classmethod
    def attestation_given(cls, value: bool) -> bool:
        if not value:
            raise _invalid("attestation_required", "L'attestation de minimis est obligatoire.")
        return value


class StatusLinkAsk(BaseModel):
    """Who lost a status link: the SIRET and the e-mail given when applying."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    siret: Siret
    email: Email


class StatusLinkAnswer(BaseModel):
    """The same answer whether or not an application matches."""

    detail: str


# French messages for the form, for the errors that pydantic words itself.
FIELD_MESSAGES = {
    "siret": "Indiquez le SIRET de l'établissement (14 chiffres).",
    "company_name": "Indiquez la raison sociale (2 caractères au moins).",
    "contact_name": "Indiquez le nom de la personne à contacter.",
    "email": "Indiquez une adresse e-mail.",
    "phone": "Indiquez un numéro de téléphone.",
    "theme": "Choisissez une thématique.",
    "headcount": "Indiquez l'effectif salarié en nombre entier (0 ou plus).",
    "annual_turnover_eur": "Indiquez le chiffre d'affaires annuel en euros, sans décimales.",
    "de_minimis_aid_eur": "Indiquez le montant des aides de minimis en euros (0 si aucune).",
    "de_minimis_attestation": "L'attestation de minimis est obligatoire.",
    "consent": "Votre accord est nécessaire pour traiter la demande.",
    "programme_id": "Programme inconnu.",
}


CUSTOM_ERRORS = {
    "siret_format",
    "siret_checksum",
    "email_invalid",
    "phone_invalid",
    "consent_required",
    "attestation_required",
}


def french_errors(errors: list[ErrorDetails]) -> dict[str, str]:
    """Field → French message (the first error of each field), from pydantic's errors."""
    messages: dict[str, str] = {}
    for error in errors:
        name = str(error["loc"][-1]) if error["loc"] else ""
        own = error["type"] in CUSTOM_ERRORS
        messages.setdefault(
            name, error["msg"] if own else FIELD_MESSAGES.get(name, "Valeur invalide.")
        )
    return messages


class RuleOutcome(BaseModel):
    rule: str
    outcome: Literal["pass", "fail", "unknown"]
    reason: str = Field(description="In French, for the applicant and the reviewer")
    data: dict[str, Any]
    blocking: bool = Field(description="False: a failure sends the application to review")


class EligibilityReport(BaseModel):
    result: Literal["eligible", "needs_review", "ineligible"]
    rules_version: int
    registry: Literal["found", "not_found", "offline", "unreachable"]
    registry_detail: str | None
    checked_at: datetime
    rules: list[RuleOutcome]


class ApplicationReceipt(BaseModel):
    """What the applicant gets back: keep ``status_url``, it is the only way back."""

    id: int
    status: ApplicationStatus
    status_url: str
    eligibility: EligibilityReport


class ApplicationSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    programme_id: int
    status: ApplicationStatus
    siret: str
    company_name: str
    theme: str
    department: str | None
    created_at: datetime


class ChequeIssued(BaseModel):
    """The cheque of an approved application: ``code`` to type, ``token`` for the QR."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    token: str
    amount_cents: int
    balance_cents: int
    valid_from: date
    valid_until: date
    status: str


class ApplicationPublic(ApplicationSummary):
    siren: str
    contact_name: str | None
    email: str | None
    phone: str | None
    headcount: int
    annual_turnover_eur: int
    de_minimis_aid_eur: int
    rules_version: int
    eligibility: EligibilityReport
    status_url: str
    updated_at: datetime
    decided_at: datetime | None
    decided_by_id: int | None
    decision_reason: str | None
    purged_at: datetime | None
    cheque: ChequeIssued | None = None
    notes: list[HistoryEntry] = Field(default=[], description="Staff's private notes")
    exchanges: list[HistoryEntry] = Field(
        default=[], description="Correction requests and the applicant's answers"
    )


class ApplicationPage(BaseModel):
    items: list[ApplicationSummary]
    total: int
    page: int
    per_page: int
    pages: int


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=1000, description="Told to the applicant")


class BulkApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]] = Field(
        min_length=1, max_length=200
    )


class ApprovalOutcome(BaseModel):
    id: int
    approved: bool
    status: ApplicationStatus | None = None
    problem: Problem | None = None


class BulkApprovalResult(BaseModel):
    approved: int
    refused: int
    results: list[ApprovalOutcome]
