"""Settings, read from the environment (prefix ``MCD_``) and a ``.env`` file."""

import ipaddress
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    EmailStr,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as stdnum_siren

from voucher_service.core.roles import Role

# MCD_REGISTRY_URL=demo: the built-in registry of fictitious companies (the demo's).
FICTITIOUS_REGISTRY = "demo"
DEVELOPMENT_SECRET = "development-secret-do-not-use-in-production"  # noqa: S105
# The test account of the bank-statement fixtures: fine for development, never for paying.
DEVELOPMENT_DEBTOR_IBAN = "FR7630006000011234567890189"
# Its BIC in 11 characters: the branch code "XXX" is how SWIFT names a head office.
DEVELOPMENT_DEBTOR_BIC = "AGRIFRPPXXX"
# Room for a statement upload's multipart envelope and the page's CSRF field.
MULTIPART_ALLOWANCE = 64 * 1024
# How the paying account's settings (and the Region's SIREN, which names the FEC) are
# checked (python-stdnum), by field.
ACCOUNT_CHECKS = {
    "payout_debtor_iban": ("IBAN", stdnum_iban),
    "payout_debtor_bic": ("BIC", stdnum_bic),
    "payout_siren": ("SIREN", stdnum_siren),
}


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ApiDocs(StrEnum):
    """Whether ``/docs`` and ``/openapi.json`` are served."""

    public = "public"
    off = "off"


# A metrics token is a bearer secret: long enough that it cannot be guessed.
MIN_METRICS_TOKEN_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MCD_", env_file=".env", extra="ignore")

    env: Environment = Environment.development
    database_url: str = "sqlite+aiosqlite:///./var/mcd.db"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    public_url: str = "http://127.0.0.1:8000"
    registry_url: str = "https://recherche-entreprises.api.gouv.fr"
    registry_timeout_seconds: float = Field(default=4.0, gt=0)
    registry_deadline_seconds: float = Field(default=10.0, gt=0)
    registry_cache_seconds: int = Field(default=3600, ge=0)
    retention_months: int = Field(default=36, ge=1, le=120)

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    mail_from: str = "Mon coach digital <no-reply@moncoachdigital.maregionsud.fr>"
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    mail_max_attempts: int = Field(default=10, ge=1)
    mail_retry_seconds: float = Field(default=60, gt=0)
    mail_retry_max_seconds: float = Field(default=4 * 3600, gt=0)
    mail_lease_seconds: float = Field(default=300, gt=0)

    access_token_minutes: int = 30
    session_hours: int = 8
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    login_delay_seconds: int = Field(default=60, ge=1)
    password_reset_minutes: int = 30
    # Roles that must log in with a second factor (TOTP); unset: admin and accountant in
    # production, none elsewhere.
    require_2fa_roles: Annotated[frozenset[Role] | None, NoDecode] = None
    password_reset_max_per_email: int = 3
    password_reset_max_per_address: int = 20
    max_body_bytes: int = 2_000_000
    # The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-
    # separated addresses or networks, or "*"; none by default, so that the address a
    # login throttle counts is the peer's own.
    forwarded_allow_ips: str = ""
    # A bank statement file (camt.053): a busy day's runs to a few megabytes.
    max_statement_bytes: int = Field(default=5_000_000, ge=1)
    pdf_workers: int = Field(default=2, ge=1, le=32)
    audit_seal_seconds: float = Field(default=1.0, gt=0)
    # An event unsealed after this many sealing rounds is a fault of `audit verify`.
    audit_seal_grace_rounds: int = Field(default=60, ge=2)
    # Signed checkpoints of the chain's head: how often the sealer takes one, where they
    # are published outside the database, who receives each by e-mail, and the secret of
    # their Ed25519 key (MCD_SECRET_KEY when unset).
    audit_checkpoint_seconds: float = Field(default=3600, gt=0)
    audit_checkpoint_dir: Path | None = None
    audit_auditor_emails: Annotated[list[EmailStr], NoDecode] = []
    audit_signing_secret: SecretStr | None = None
    redemption_undo_hours: int = 48
    redemption_max_failures: int = 20
    redemption_failure_window_minutes: int = 10
    # Operator endpoints: the API documentation, and who may read the metrics (without a
    # token: anyone in development, nobody in production).
    api_docs: ApiDocs = ApiDocs.public
    metrics_token: SecretStr | None = None

    # Payouts. The debtor account pays the experts; the defaults are development values,
    # refused in production. 231300021 is the Région Provence-Alpes-Côte
    # d'Azur's SIREN (it passes the Luhn check); it names the FEC file.
    payout_debtor_name: str = "Region Provence-Alpes-Cote d'Azur"
    payout_debtor_iban: str = DEVELOPMENT_DEBTOR_IBAN
    payout_debtor_bic: str = DEVELOPMENT_DEBTOR_BIC
    payout_siren: str = "231300021"
    # A SEPA file produced before this hour (Paris) asks for execution the same day, later
    # ones the next business day; 0 means never the same day.
    payout_cutoff_hour: int = 14
    # Four eyes on payments: a batch is approved by another admin or accountant than the
    # one who prepared it before its SEPA file can be produced. Unset: on in production.
    payout_four_eyes: bool | None = None
    # Commitments are off-balance-sheet (class 8): debit the commitment given, credit the
    # programme's envelope.
    account_commitment: str = "801"
    account_programme: str = "802"
    account_expense: str = "6574"
    account_supplier: str = "401"
    account_bank: str = "512"

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def payout_approval_required(self) -> bool:
        return self.is_production if self.payout_four_eyes is None else self.payout_four_eyes

    @property
    def max_statement_upload_bytes(self) -> int:
        """The body limit of a statement upload: the largest file the parser takes, with
        its multipart envelope, and never below the ordinary limit."""
        return max(self.max_body_bytes, self.max_statement_bytes + MULTIPART_ALLOWANCE)

    @property
    def audit_seal_grace(self) -> timedelta:
        return timedelta(seconds=self.audit_seal_seconds * self.audit_seal_grace_rounds)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @model_validator(mode="after")
    def lease_outlasts_a_send(self) -> Self:
        if self.mail_lease_seconds <= 2 * self.smtp_timeout_seconds:
            raise ValueError(
                "MCD_MAIL_LEASE_SECONDS must be more than twice MCD_SMTP_TIMEOUT_SECONDS, "
                "so that a worker never loses a message it is still sending"
            )
        return self

    @field_validator("audit_auditor_emails", mode="before")
    @classmethod
    def comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [address.strip() for address in value.split(",") if address.strip()]
        return value

    @field_validator("require_2fa_roles", mode="before")
    @classmethod
    def role_names(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        names = {name.strip() for name in value.split(",") if name.strip()}
        if not names <= set(Role):
            raise ValueError(
                f"MCD_REQUIRE_2FA_ROLES must be roles among {', '.join(Role)} "
                f"(comma-separated, or empty), got {value!r}"
            )
        return frozenset(Role(name) for name in names)

    @property
    def second_factor_roles(self) -> frozenset[Role]:
        """The roles that must log in with a second factor."""
        if self.require_2fa_roles is not None:
            return self.require_2fa_roles
        return frozenset({Role.admin, Role.accountant}) if self.is_production else frozenset()

    @field_validator("payout_cutoff_hour", mode="before")
    @classmethod
    def an_hour(cls, value: object) -> int:
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdecimal() or int(text) > 23:
            raise ValueError(
                f"MCD_PAYOUT_CUTOFF_HOUR must be a whole hour from 0 to 23 (Paris time), "
                f"got {value!r}"
            )
        return int(text)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def proxy_addresses(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if entries == ["*"]:
            return "*"
        try:
            return ",".join(str(ipaddress.ip_network(entry, strict=False)) for entry in entries)
        except ValueError:
            raise ValueError(
                "MCD_FORWARDED_ALLOW_IPS must be the proxies' addresses or networks, comma-"
                f"separated (10.0.0.5,172.18.0.0/16), or *, got {value!r}"
            ) from None

    @field_validator("api_docs", mode="before")
    @classmethod
    def api_docs_choice(cls, value: object) -> object:
        if str(value) not in set(ApiDocs):
            choices = " or ".join(ApiDocs)
            raise ValueError(f"MCD_API_DOCS must be {choices}, got {value!r}")
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def long_metrics_token(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is None or text == "":
            return None
        if not isinstance(text, str) or len(text) < MIN_METRICS_TOKEN_LENGTH:
            raise ValueError(
                f"MCD_METRICS_TOKEN must be a random value of at least "
                f"{MIN_METRICS_TOKEN_LENGTH} characters (or be left unset)"
            )
        return text

    @field_validator(
        "password_reset_minutes",
        "password_reset_max_per_email",
        "password_reset_max_per_address",
        mode="before",
    )
    @classmethod
    def a_positive_count(cls, value: object, info: ValidationInfo) -> int:
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdecimal() or int(text) < 1:
            variable = f"MCD_{str(info.field_name).upper()}"
            raise ValueError(f"{variable} must be a whole number of at least 1, got {value!r}")
        return int(text)

    @field_validator("payout_debtor_iban", "payout_debtor_bic", "payout_siren")
    @classmethod
    def valid_account(cls, value: str, info: ValidationInfo) -> str:
        kind, checker = ACCOUNT_CHECKS[str(info.field_name)]
        try:
            return str(checker.validate(value))
        except StdnumError as error:
            variable = f"MCD_{str(info.field_name).upper()}"
            raise ValueError(f"{variable} is not a valid {kind} ({error})") from None

    @model_validator(mode="after")
    def refuse_unsafe_production(self) -> Self:
        if not self.is_production:
            return self
        secret = self.secret_key.get_secret_value()
        if secret == DEVELOPMENT_SECRET or len(secret) < 32:
            raise ValueError(
                "MCD_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (for example: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        if self.is_sqlite and (
            ":memory:" in self.database_url or self.database_url.endswith("://")
        ):
            raise ValueError(
                "MCD_DATABASE_URL points to an in-memory SQLite database; "
                "set it to PostgreSQL (postgresql+asyncpg://...) in production"
            )
        if self.payout_debtor_iban == DEVELOPMENT_DEBTOR_IBAN or (
            self.payout_debtor_bic == DEVELOPMENT_DEBTOR_BIC
        ):
            raise ValueError(
                "MCD_PAYOUT_DEBTOR_IBAN and MCD_PAYOUT_DEBTOR_BIC must be set to the "
                "Région's paying account in production (the defaults are a test account)"
            )
        return self

    @model_validator(mode="after")
    def real_registry_in_production(self) -> Self:
        if self.is_production and self.registry_url.strip().lower() == FICTITIOUS_REGISTRY:
            raise ValueError(
                f"MCD_REGISTRY_URL={FICTITIOUS_REGISTRY} answers with fictitious companies; "
                "set the company registry's URL in production"
            )
        return self

    @model_validator(mode="after")
    def strong_audit_secret(self) -> Self:
        signing = self.audit_signing_secret
        if self.is_production and signing and len(signing.get_secret_value()) < 32:
            raise ValueError(
                "MCD_AUDIT_SIGNING_SECRET must be a random value of at least 32 characters "
                "in production, or unset to derive the audit key from MCD_SECRET_KEY"
            )
        return self

    def sqlite_path(self) -> Path | None:
        """The file of a SQLite database, so that its folder can be created."""
        if not self.is_sqlite or ":memory:" in self.database_url:
            return None
        return Path(self.database_url.split(":///", 1)[1])


# Settings whose value a refusal never repeats: secrets, and the database URL's password.
UNPRINTED = frozenset({"secret_key", "smtp_password", "database_url"})


def refusals(error: ValidationError) -> list[str]:
    """One line per refused setting: its variable, the value (unless secret) and what is
    accepted, e.g. ``MCD_SMTP_TLS='false' is refused: Input should be 'starttls', 'tls' or
    'none'``."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        field = str(problem["loc"][0]) if problem["loc"] else ""
        variable = f"MCD_{field.upper()}"
        if not field or variable in message:
            lines.append(message)
            continue
        value = "(value hidden)" if field in UNPRINTED else repr(problem["input"])
        lines.append(f"{variable}={value} is refused: {message}")
    return lines


@lru_cache
def get_settings() -> Settings:
    return Settings()
