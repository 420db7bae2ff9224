"""Settings, read from the environment (prefix ``MCD_``) and a ``.env`` file."""

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as stdnum_siren

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
    smtp_tls: str = Field(default="starttls", pattern="^(starttls|tls|none)$")
    mail_from: str = "Mon coach digital <no-reply@moncoachdigital.maregionsud.fr>"
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    mail_max_attempts: int = Field(default=10, ge=1)
    mail_retry_seconds: float = Field(default=60, gt=0)
    mail_retry_max_seconds: float = Field(default=4 * 3600, gt=0)
    mail_lease_seconds: float = Field(default=300, gt=0)

    access_token_minutes: int = 30
    session_hours: int = 8
    login_max_failures: int = 5
    login_window_minutes: int = 15
    password_reset_minutes: int = 30
    password_reset_max_per_email: int = 3
    password_reset_max_per_address: int = 20
    max_body_bytes: int = 2_000_000
    # A bank statement file (camt.053): a busy day's runs to a few megabytes.
    max_statement_bytes: int = Field(default=5_000_000, ge=1)
    pdf_workers: int = Field(default=2, ge=1, le=32)
    audit_seal_seconds: float = Field(default=1.0, gt=0)
    redemption_undo_hours: int = 48
    redemption_max_failures: int = 20
    redemption_failure_window_minutes: int = 10

    # Payouts. The debtor account pays the experts; the defaults are development values,
    # refused in production. 231300021 is the Région Provence-Alpes-Côte
    # d'Azur's SIREN (it passes the Luhn check); it names the FEC file.
    payout_debtor_name: str = "Region Provence-Alpes-Cote d'Azur"
    payout_debtor_iban: str = DEVELOPMENT_DEBTOR_IBAN
    payout_debtor_bic: str = DEVELOPMENT_DEBTOR_BIC
    payout_siren: str = Field(default="231300021", pattern=r"^\d{9}$")
    # A SEPA file produced before this hour (Paris) asks for execution the same day, later
    # ones the next business day; 0 means never the same day.
    payout_cutoff_hour: int = 14
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
    def max_statement_upload_bytes(self) -> int:
        """The body limit of a statement upload: the largest file the parser takes, with
        its multipart envelope, and never below the ordinary limit."""
        return max(self.max_body_bytes, self.max_statement_bytes + MULTIPART_ALLOWANCE)

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

    def sqlite_path(self) -> Path | None:
        """The file of a SQLite database, so that its folder can be created."""
        if not self.is_sqlite or ":memory:" in self.database_url:
            return None
        return Path(self.database_url.split(":///", 1)[1])


@lru_cache
def get_settings() -> Settings:
    return Settings()
