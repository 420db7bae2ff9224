"""Each rule's pass, fail and unknown, and how the report decides."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from tests.fixtures.factories import programme_body
from tests.fixtures.registry import SIRETS
from voucher_service.applications import eligibility
from voucher_service.applications.eligibility import Declaration, Facts, Outcome, Result
from voucher_service.applications.registry import (
    Company,
    Establishment,
    Lookup,
    RegistryAnswer,
)
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.programmes.models import Programme
from voucher_service.programmes.schemas import ProgrammeCreate

PASS, FAIL, UNKNOWN = Outcome.passed, Outcome.failed, Outcome.unknown


def programme(**overrides: Any) -> Programme:
    return Programme(**ProgrammeCreate.model_validate(programme_body(**overrides)).model_dump())


def found(**overrides: Any) -> RegistryAnswer:
    place = Establishment(
        SIRETS.marseille, state="A", department="13", is_head_office=True, diffusible=True
    )
    values: dict[str, Any] = {
        "siren": SIRETS.marseille[:9],
        "name": "atelier calanques",
        "state": "A",
        "diffusible": True,
        "headcount_band": "03",
        "turnover_eur": None,
        "turnover_year": None,
        "establishment": place,
    }
    if "establishment" in overrides:
        changes = overrides.pop("establishment")
        values["establishment"] = None if changes is None else replace(place, **changes)
    return RegistryAnswer(Lookup.found, Company(**{**values, **overrides}))


OFFLINE = RegistryAnswer(Lookup.offline, detail="mode hors ligne")
DOWN = RegistryAnswer(Lookup.unreachable, detail="HTTP 500")


def facts(
    registry: RegistryAnswer | None = None,
    prog: Programme | None = None,
    today: date | None = None,
    already: bool = False,
    **declared: Any,
) -> Facts:
    declaration = Declaration(
        **{
            "siret": SIRETS.marseille,
            "theme": "cybersecurity",
            "headcount": 6,
            "annual_turnover_eur": 480_000,
            "de_minimis_aid_eur": 0,
            **declared,
        }
    )
    return Facts(
        prog or programme(), today or paris_today(), declaration, registry or found(), already
    )


def outcome(rule: str, given: Facts) -> Outcome:
    found: Outcome = getattr(eligibility, rule)(given).outcome
    return found


class TestRules:
    def test_siret_valid(self) -> None:
        assert outcome("siret_valid", facts()) is PASS
        assert outcome("siret_valid", facts(siret="73282932000075")) is FAIL
        assert outcome("siret_valid", facts(siret="35600000049837")) is PASS  # La Poste

    def test_programme_open(self) -> None:
        assert outcome("programme_open", facts()) is PASS
        assert outcome("programme_open", facts(today=paris_today() + timedelta(days=400))) is FAIL

    def test_company_active(self) -> None:
        assert outcome("company_active", facts()) is PASS
        assert outcome("company_active", facts(found(state="C"))) is FAIL
        assert outcome("company_active", facts(DOWN)) is UNKNOWN

    def test_establishment_active(self) -> None:
        assert outcome("establishment_active", facts()) is PASS
        assert outcome("establishment_active", facts(found(establishment={"state": "F"}))) is FAIL
        assert outcome("establishment_active", facts(found(establishment=None))) is UNKNOWN
        assert outcome("establishment_active", facts(OFFLINE)) is UNKNOWN

    def test_department_in_region(self) -> None:
        assert outcome("department_in_region", facts()) is PASS
        paris = found(establishment={"department": "75"})
        assert outcome("department_in_region", facts(paris)) is FAIL
        hidden = found(diffusible=False, establishment={"department": None, "diffusible": False})
        result = eligibility.department_in_region(facts(hidden))
        assert result.outcome is UNKNOWN and "non diffusible" in result.reason

    def test_an_overseas_collectivity_is_outside_the_region(self) -> None:
        tahiti = found(establishment={"department": "987"})
        result = eligibility.department_in_region(facts(tahiti))
        assert result.outcome is FAIL
        assert "collectivité d'outre-mer 987, hors de la région" in result.reason

    def test_headcount_band_settles_when_wholly_on_one_side(self) -> None:
        assert outcome("headcount", facts(found(headcount_band="12"), headcount=6)) is FAIL
        result = eligibility.headcount(facts(found(headcount_band="11"), headcount=12))
        assert result.outcome is PASS and result.data["source"] == "registry"

    def test_headcount_declaration_decides_when_the_band_straddles(self) -> None:
        ceiling_15 = programme(max_headcount=15)
        band_11 = found(headcount_band="11")
        small = eligibility.headcount(facts(band_11, ceiling_15, headcount=12))
        assert small.outcome is PASS and small.data["source"] == "declaration"
        assert outcome("headcount", facts(band_11, ceiling_15, headcount=16)) is FAIL
        unknown_band = found(headcount_band="NN")
        assert outcome("headcount", facts(unknown_band, headcount=19)) is PASS
        assert outcome("headcount", facts(OFFLINE, headcount=25)) is FAIL

    def test_turnover(self) -> None:
        assert outcome("turnover", facts(annual_turnover_eur=2_000_000)) is PASS
        assert outcome("turnover", facts(annual_turnover_eur=2_000_001)) is FAIL

    def test_de_minimis_counts_this_cheque(self) -> None:
        assert outcome("de_minimis", facts(de_minimis_aid_eur=298_000)) is PASS
        assert outcome("de_minimis", facts(de_minimis_aid_eur=298_001)) is FAIL

    def test_theme_offered(self) -> None:
        assert outcome("theme_offered", facts()) is PASS
        assert outcome("theme_offered", facts(theme="blockchain")) is FAIL

    def test_not_already_beneficiary(self) -> None:
        assert outcome("not_already_beneficiary", facts()) is PASS
        assert outcome("not_already_beneficiary", facts(already=True)) is FAIL

    def test_declarations_consistent(self) -> None:
        assert outcome("declarations_consistent", facts()) is PASS
        contradicted = eligibility.declarations_consistent(facts(found(headcount_band="11")))
        assert contradicted.outcome is FAIL and not contradicted.blocking
        rich = found(turnover_eur=2_400_000, turnover_year="2022")
        assert outcome("declarations_consistent", facts(rich)) is FAIL
        assert outcome("declarations_consistent", facts(DOWN)) is UNKNOWN


class TestDecision:
    def decide(self, given: Facts) -> Result:
        return eligibility.evaluate(given, utcnow()).result

    def test_all_pass_is_eligible(self) -> None:
        assert self.decide(facts()) is Result.eligible

    def test_a_failure_is_ineligible_even_with_unknowns(self) -> None:
        assert self.decide(facts(OFFLINE, annual_turnover_eur=9_000_000)) is Result.ineligible

    @pytest.mark.parametrize("registry", [OFFLINE, DOWN], ids=["offline", "down"])
    def test_without_the_registry_it_needs_review(self, registry: RegistryAnswer) -> None:
        assert self.decide(facts(registry)) is Result.needs_review

    def test_a_contradiction_needs_review(self) -> None:
        assert self.decide(facts(found(headcount_band="11"))) is Result.needs_review

    def test_the_report_keeps_every_rule_and_the_rules_version(self) -> None:
        report = eligibility.evaluate(facts(prog=programme()), utcnow()).as_json()
        assert [rule["rule"] for rule in report["rules"]] == list(eligibility.RULE_LABELS)
        assert report["rules_version"] == 1 and report["registry"] == "found"
        assert all(rule["reason"] for rule in report["rules"])
