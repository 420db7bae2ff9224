"""Production refuses unsafe settings with a message that says what to set."""

from typing import Any

import pytest
from pydantic import ValidationError

from voucher_service.core.config import DEVELOPMENT_SECRET, Settings

PG = "postgresql+asyncpg://mcd@db/mcd"
STRONG = "k" * 48
PAYING_ACCOUNT = {
    "payout_debtor_iban": "FR1420041010050500013M02606",
    "payout_debtor_bic": "PSSTFRPPMAR",
}


def make(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


class TestOperatorEndpoints:
    def test_a_refused_value_names_its_variable(self) -> None:
        with pytest.raises(ValidationError, match="MCD_API_DOCS must be public or off, got 'on'"):
            make(api_docs="on")
        with pytest.raises(ValidationError, match="MCD_METRICS_TOKEN must be a random value"):
            make(metrics_token="short")

    def test_an_empty_token_is_no_token(self) -> None:
        assert make(metrics_token="").metrics_token is None
        assert make(api_docs="off", metrics_token="t" * 32).api_docs == "off"


class TestProductionSettings:
    def test_refuses_the_development_secret(self) -> None:
        with pytest.raises(ValidationError, match="MCD_SECRET_KEY"):
            make(env="production", database_url=PG, secret_key=DEVELOPMENT_SECRET)

    def test_refuses_a_short_secret(self) -> None:
        with pytest.raises(ValidationError, match="MCD_SECRET_KEY"):
            make(env="production", database_url=PG, secret_key="short")

    def test_refuses_sqlite_in_memory(self) -> None:
        with pytest.raises(ValidationError, match="MCD_DATABASE_URL"):
            make(env="production", database_url="sqlite+aiosqlite://", secret_key=STRONG)

    def test_refuses_the_development_paying_account(self) -> None:
        with pytest.raises(ValidationError, match="MCD_PAYOUT_DEBTOR_IBAN"):
            make(env="production", database_url=PG, secret_key=STRONG)
        with pytest.raises(ValidationError, match="MCD_PAYOUT_DEBTOR_BIC"):
            make(
                env="production",
                database_url=PG,
                secret_key=STRONG,
                payout_debtor_iban=PAYING_ACCOUNT["payout_debtor_iban"],
            )

    def test_refuses_a_short_audit_signing_secret(self) -> None:
        real = {"env": "production", "database_url": PG, "secret_key": STRONG, **PAYING_ACCOUNT}
        with pytest.raises(ValidationError, match="MCD_AUDIT_SIGNING_SECRET"):
            make(**real, audit_signing_secret="short")
        assert make(**real, audit_signing_secret=STRONG).audit_signing_secret is not None

    def test_refuses_the_fictitious_registry(self) -> None:
        real = {"env": "production", "database_url": PG, "secret_key": STRONG, **PAYING_ACCOUNT}
        with pytest.raises(ValidationError, match="MCD_REGISTRY_URL=demo answers with fictitious"):
            make(**real, registry_url="demo")
        assert make(registry_url="demo").registry_url == "demo"  # fine outside production

    def test_accepts_a_real_configuration(self) -> None:
        settings = make(env="production", database_url=PG, secret_key=STRONG, **PAYING_ACCOUNT)
        assert settings.is_production

    def test_auditors_are_a_comma_separated_list_of_addresses(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MCD_AUDIT_AUDITOR_EMAILS", " audit@maregionsud.fr, cour@ccomptes.fr,")
        assert make().audit_auditor_emails == ["audit@maregionsud.fr", "cour@ccomptes.fr"]
        monkeypatch.setenv("MCD_AUDIT_AUDITOR_EMAILS", "audit@maregionsud.fr, pas une adresse")
        with pytest.raises(ValidationError, match="audit_auditor_emails"):
            make()

    def test_a_malformed_paying_account_is_refused_in_any_environment(self) -> None:
        with pytest.raises(ValidationError, match="MCD_PAYOUT_SIREN is not a valid SIREN"):
            make(payout_siren="231300022")  # the FEC is named after it
        with pytest.raises(ValidationError, match="not a valid IBAN"):
            make(payout_debtor_iban="FR7630006000011234567890180")
        with pytest.raises(ValidationError, match="not a valid BIC"):
            make(payout_debtor_bic="AGRI-FR")
        assert (
            make(payout_debtor_iban="fr14 2004 1010 0505 0001 3M02 606").payout_debtor_iban
            == (PAYING_ACCOUNT["payout_debtor_iban"])
        )

    def test_development_accepts_defaults(self) -> None:
        settings = make()
        assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET
        assert settings.database_url.startswith("sqlite+aiosqlite")

    def test_reads_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MCD_PUBLIC_URL", "https://cheques.example.fr")
        assert make().public_url == "https://cheques.example.fr"


class TestMailSettings:
    def test_a_lease_shorter_than_two_smtp_timeouts_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="MCD_MAIL_LEASE_SECONDS"):
            make(smtp_timeout_seconds=60, mail_lease_seconds=100)

    def test_retry_settings_come_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MCD_MAIL_MAX_ATTEMPTS", "3")
        monkeypatch.setenv("MCD_SMTP_TLS", "none")
        settings = make()
        assert (settings.mail_max_attempts, settings.smtp_tls) == (3, "none")


class TestPayoutCutOffHour:
    def test_defaults_to_14_and_comes_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert make().payout_cutoff_hour == 14
        monkeypatch.setenv("MCD_PAYOUT_CUTOFF_HOUR", "0")
        assert make().payout_cutoff_hour == 0

    @pytest.mark.parametrize("value", ["24", "-1", "midi", "12.5", "", 12.5, True])
    def test_a_value_that_is_not_an_hour_names_its_variable(self, value: object) -> None:
        with pytest.raises(ValidationError, match="MCD_PAYOUT_CUTOFF_HOUR"):
            make(payout_cutoff_hour=value)


RESET_SETTINGS = ("minutes", "max_per_email", "max_per_address")


class TestPasswordReset:
    def test_a_link_lasts_30_minutes_unless_the_environment_says(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert make().password_reset_minutes == 30
        monkeypatch.setenv("MCD_PASSWORD_RESET_MINUTES", "10")
        assert make().password_reset_minutes == 10

    @pytest.mark.parametrize("field", [f"password_reset_{name}" for name in RESET_SETTINGS])
    @pytest.mark.parametrize("value", ["0", "-5", "demi-heure", "2.5", "", 2.5, True])
    def test_a_value_that_is_not_a_positive_count_names_its_variable(
        self, field: str, value: object
    ) -> None:
        with pytest.raises(ValidationError, match=f"MCD_{field.upper()} must be a whole number"):
            make(**{field: value})
