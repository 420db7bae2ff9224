"""Each rule's pass, fail and unknown, and how the report decides."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
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


# The report as it is kept with the application and shown to the reviewer: every rule's
# outcome, its French reason and the data it was decided on, word for word.
OPENS, CLOSES, DAY = date(2027, 1, 15), date(2027, 12, 31), date(2027, 3, 1)
CHECKED = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
REGION = ["04", "05", "06", "13", "83", "84"]
THEMES = ["e-commerce", "cybersecurity", "collaboration"]
E, N = "\u00a0€", "\u202f"  # euros are written "2 000,00 €" with no-break spaces
SIRET, SIREN = SIRETS.marseille, SIRETS.marseille[:9]


def report_of(registry: RegistryAnswer | None = None, **given: Any) -> dict[str, Any]:
    given.setdefault("today", DAY)
    prog = programme(opens_on=OPENS.isoformat(), closes_on=CLOSES.isoformat())
    return eligibility.evaluate(facts(registry, prog, **given), CHECKED).as_json()


def rules_of(report: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        r["rule"]: (r["outcome"], r["reason"], r["data"], r["blocking"]) for r in report["rules"]
    }


def rule(outcome: str, reason: str, blocking: bool = True, **data: Any) -> tuple[Any, ...]:
    return (outcome, reason, data, blocking)


class TestReport:
    def test_an_eligible_report_word_for_word(self) -> None:
        report = report_of()
        assert {k: v for k, v in report.items() if k != "rules"} == {
            "result": "eligible",
            "rules_version": 1,
            "registry": "found",
            "registry_detail": None,
            "checked_at": "2027-03-01T09:30:00+00:00",
        }
        assert rules_of(report) == {
            "siret_valid": rule("pass", f"Le SIRET {SIRET} est bien formé.", siret=SIRET),
            "programme_open": rule(
                "pass",
                "Le programme est ouvert du 15/01/2027 au 31/12/2027.",
                opens_on="2027-01-15",
                closes_on="2027-12-31",
                today="2027-03-01",
            ),
            "company_active": rule(
                "pass",
                "L'entreprise est active dans l'annuaire.",
                siren=SIREN,
                etat_administratif="A",
            ),
            "establishment_active": rule(
                "pass", "L'établissement est ouvert.", siret=SIRET, etat_administratif="A"
            ),
            "department_in_region": rule(
                "pass",
                "L'établissement est situé dans le département 13.",
                department="13",
                departments=REGION,
            ),
            "headcount": rule(
                "pass",
                "L'annuaire indique 6 à 9 salariés, dans le plafond de 19.",
                source="registry",
                declared=6,
                max_headcount=19,
                band="03",
            ),
            "turnover": rule(
                "pass",
                f"Chiffre d'affaires dans le plafond (480{N}000,00{E} déclarés, "
                f"plafond 2{N}000{N}000,00{E}).",
                declared_eur=480_000,
                max_turnover_eur=2_000_000,
            ),
            "de_minimis": rule(
                "pass",
                f"Aides de minimis dans le plafond (0,00{E} déjà reçus + 2{N}000,00{E} de "
                f"chèque ≤ 300{N}000,00{E}).",
                declared_aid_eur=0,
                cheque_cents=200_000,
                max_de_minimis_eur=300_000,
            ),
            "theme_offered": rule(
                "pass",
                "La thématique « Cybersécurité » est proposée.",
                theme="cybersecurity",
                themes=THEMES,
            ),
            "not_already_beneficiary": rule(
                "pass", "Aucun chèque de ce programme n'a déjà été accordé à cette entreprise."
            ),
            "declarations_consistent": rule(
                "pass",
                "Rien dans l'annuaire ne contredit les déclarations.",
                band="03",
                registry_turnover_eur=None,
            ),
        }

    def test_an_ineligible_report_word_for_word(self) -> None:
        closed = found(
            state="C", headcount_band="12", establishment={"state": "F", "department": "987"}
        )
        report = report_of(
            closed,
            today=date(2028, 1, 1),
            already=True,
            siret="73282932000075",
            headcount=25,
            annual_turnover_eur=2_000_001,
            de_minimis_aid_eur=298_001,
            theme="blockchain",
        )
        assert report["result"] == "ineligible"
        rules = rules_of(report)
        del rules["declarations_consistent"]
        assert rules == {
            "siret_valid": rule(
                "fail",
                "Le SIRET 73282932000075 n'est pas un numéro valide.",
                siret="73282932000075",
            ),
            "programme_open": rule(
                "fail",
                "Le programme n'accepte les demandes que du 15/01/2027 au 31/12/2027.",
                opens_on="2027-01-15",
                closes_on="2027-12-31",
                today="2028-01-01",
            ),
            "company_active": rule(
                "fail",
                "L'entreprise est cessée selon l'annuaire.",
                siren=SIREN,
                etat_administratif="C",
            ),
            "establishment_active": rule(
                "fail", "L'établissement est fermé.", siret=SIRET, etat_administratif="F"
            ),
            "department_in_region": rule(
                "fail",
                "L'établissement est situé dans la collectivité d'outre-mer 987, hors de la "
                "région (04, 05, 06, 13, 83, 84).",
                department="987",
                departments=REGION,
            ),
            "headcount": rule(
                "fail",
                "L'annuaire indique 20 à 49 salariés, au-delà du plafond de 19.",
                source="registry",
                declared=25,
                max_headcount=19,
                band="12",
            ),
            "turnover": rule(
                "fail",
                f"Chiffre d'affaires trop élevé (2{N}000{N}001,00{E} déclarés, "
                f"plafond 2{N}000{N}000,00{E}).",
                declared_eur=2_000_001,
                max_turnover_eur=2_000_000,
            ),
            "de_minimis": rule(
                "fail",
                f"Le chèque dépasserait le plafond des aides de minimis (298{N}001,00{E} déjà "
                f"reçus + 2{N}000,00{E} de chèque > 300{N}000,00{E}).",
                declared_aid_eur=298_001,
                cheque_cents=200_000,
                max_de_minimis_eur=300_000,
            ),
            "theme_offered": rule(
                "fail",
                "La thématique « blockchain » n'est pas proposée par ce programme.",
                theme="blockchain",
                themes=THEMES,
            ),
            "not_already_beneficiary": rule(
                "fail", "Cette entreprise (même SIREN) a déjà obtenu un chèque de ce programme."
            ),
        }

    @pytest.mark.parametrize(
        ("registry", "reason"),
        [
            (OFFLINE, "L'annuaire des entreprises n'a pas été consulté (mode hors ligne)."),
            (DOWN, "L'annuaire des entreprises n'a pas répondu ; vérification à refaire."),
            (
                RegistryAnswer(Lookup.not_found),
                "Ce SIRET est introuvable dans l'annuaire public (entreprise non diffusible "
                "ou numéro erroné).",
            ),
        ],
        ids=["offline", "down", "not-found"],
    )
    def test_without_the_registry_the_reviewer_is_told_why(
        self, registry: RegistryAnswer, reason: str
    ) -> None:
        report = report_of(registry, headcount=25)
        assert (report["result"], report["registry"]) == ("ineligible", registry.lookup.value)
        assert report["registry_detail"] == registry.detail
        rules = rules_of(report)
        assert rules["company_active"] == rule("unknown", reason)
        assert rules["establishment_active"] == rule("unknown", reason)
        assert rules["department_in_region"] == rule("unknown", reason, departments=REGION)
        assert rules["declarations_consistent"] == rule("unknown", reason)
        assert rules["headcount"] == rule(
            "fail",
            "Effectif déclaré de 25, au-delà du plafond de 19 salariés.",
            source="declaration",
            declared=25,
            max_headcount=19,
            band=None,
        )
        assert report_of(registry, headcount=19)["result"] == "needs_review"
        assert rules_of(report_of(registry, headcount=19))["headcount"][:2] == (
            "pass",
            "Effectif déclaré de 19, dans le plafond de 19 salariés.",
        )

    def test_a_registry_that_leaves_a_point_out_says_so(self) -> None:
        silent = found(state=None, establishment={"state": None, "department": None})
        rules = rules_of(report_of(silent))
        assert rules["company_active"] == rule(
            "unknown", "L'annuaire des entreprises ne renseigne pas ce point."
        )
        assert rules["establishment_active"] == rule(
            "unknown", "L'annuaire ne renvoie pas l'état de cet établissement."
        )
        assert rules["department_in_region"] == rule(
            "unknown",
            "L'annuaire ne donne pas l'adresse de cet établissement.",
            departments=REGION,
        )
        no_place = rules_of(report_of(found(establishment=None)))
        assert no_place["establishment_active"][1] == (
            "L'annuaire ne renvoie pas l'état de cet établissement."
        )
        assert no_place["department_in_region"][1] == (
            "L'annuaire ne donne pas l'adresse de cet établissement."
        )
        hidden = found(diffusible=False, establishment=None)
        assert rules_of(report_of(hidden))["department_in_region"][1] == (
            "L'annuaire ne donne pas l'adresse de cet établissement (entreprise non diffusible)."
        )
        hidden_place = found(establishment={"department": None, "diffusible": False})
        assert rules_of(report_of(hidden_place))["department_in_region"][1] == (
            "L'annuaire ne donne pas l'adresse de cet établissement (entreprise non diffusible)."
        )

    def test_headcount_bands_as_the_reviewer_reads_them(self) -> None:
        largest = rules_of(report_of(found(headcount_band="53"), headcount=5))
        assert largest["headcount"][1] == (
            "L'annuaire indique 10000 salariés ou plus, au-delà du plafond de 19."
        )
        assert largest["declarations_consistent"] == rule(
            "fail",
            "À vérifier : effectif déclaré de 5, l'annuaire indique 10000 salariés ou plus.",
            blocking=False,
            band="53",
            registry_turnover_eur=None,
        )
        straddling = programme(max_headcount=15, opens_on=OPENS.isoformat())
        band_11 = found(headcount_band="11")
        result = eligibility.headcount(facts(band_11, straddling, today=DAY, headcount=16))
        assert (result.outcome, result.reason, result.data["source"]) == (
            FAIL,
            "Effectif déclaré de 16, au-delà du plafond de 15 salariés.",
            "declaration",
        )
        at_the_ceiling = eligibility.headcount(facts(found(headcount_band="11"), headcount=19))
        assert at_the_ceiling.outcome is PASS and at_the_ceiling.data["source"] == "registry"
        above = eligibility.headcount(facts(found(headcount_band="12"), headcount=19))
        assert above.outcome is FAIL

    def test_a_band_starting_at_the_ceiling_leaves_the_declaration_to_decide(self) -> None:
        ceiling_10 = programme(max_headcount=10)
        band_11 = found(headcount_band="11")  # 10 to 19
        result = eligibility.headcount(facts(band_11, ceiling_10, headcount=10))
        assert (result.outcome, result.data["source"]) == (PASS, "declaration")
        assert result.reason == "Effectif déclaré de 10, dans le plafond de 10 salariés."
        straddling = eligibility.headcount(
            facts(band_11, programme(max_headcount=15), headcount=12)
        )
        assert straddling.reason == "Effectif déclaré de 12, dans le plafond de 15 salariés."

    def test_both_contradictions_are_listed_for_review(self) -> None:
        rich = found(headcount_band="11", turnover_eur=2_400_000, turnover_year="2022")
        report = report_of(rich, headcount=4, annual_turnover_eur=2_000_000)
        assert report["result"] == "needs_review"
        assert rules_of(report)["declarations_consistent"] == rule(
            "fail",
            "À vérifier : effectif déclaré de 4, l'annuaire indique 10 à 19 salariés ; "
            f"chiffre d'affaires déclaré de 2{N}000{N}000,00{E}, l'annuaire publie "
            f"2{N}400{N}000,00{E} (2022).",
            blocking=False,
            band="11",
            registry_turnover_eur=2_400_000,
        )
        within = found(headcount_band="11", turnover_eur=2_000_000, turnover_year="2022")
        assert rules_of(report_of(within, headcount=10))["declarations_consistent"][0] == "pass"
        above_band = rules_of(report_of(found(headcount_band="11"), headcount=20))
        assert "effectif déclaré de 20" in above_band["declarations_consistent"][1]
        at_band_top = rules_of(report_of(found(headcount_band="11"), headcount=19))
        assert at_band_top["declarations_consistent"][0] == "pass"

    def test_boundaries_of_each_ceiling(self) -> None:
        at = rules_of(report_of(annual_turnover_eur=2_000_000, de_minimis_aid_eur=298_000))
        assert (at["turnover"][0], at["de_minimis"][0]) == ("pass", "pass")
        assert rules_of(report_of(today=OPENS))["programme_open"][0] == "pass"
        assert rules_of(report_of(today=CLOSES))["programme_open"][0] == "pass"
        assert rules_of(report_of(today=date(2027, 1, 14)))["programme_open"][0] == "fail"

    def test_theme_labels(self) -> None:
        assert eligibility.theme_label("e-commerce") == "Commerce en ligne"
        assert eligibility.theme_label("collaboration") == "Outils collaboratifs"
        assert eligibility.theme_label("blockchain") == "blockchain"
        shop = rules_of(report_of(theme="e-commerce"))["theme_offered"]
        assert shop[1] == "La thématique « Commerce en ligne » est proposée."

    def test_a_passed_rule_left_unknown_needs_review_and_a_soft_failure_too(self) -> None:
        passed = eligibility.RuleResult("a", PASS, "ok")
        unknown = eligibility.RuleResult("b", UNKNOWN, "?")
        soft = eligibility.RuleResult("c", FAIL, "à vérifier", blocking=False)
        hard = eligibility.RuleResult("d", FAIL, "non")
        assert eligibility.decide([passed, passed]) is Result.eligible
        assert eligibility.decide([passed, unknown]) is Result.needs_review
        assert eligibility.decide([soft, passed]) is Result.needs_review
        assert eligibility.decide([soft, hard, unknown]) is Result.ineligible
