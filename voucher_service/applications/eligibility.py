"""The eligibility rules. Each gives pass, fail or unknown, with a French reason and the
data it used; the report is kept with the application and the rules version it was
decided under."""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from stdnum.fr import siret as siret_number

from voucher_service.applications.registry import (
    OVERSEAS_COLLECTIVITIES,
    Company,
    Lookup,
    RegistryAnswer,
)
from voucher_service.core.clock import paris_today
from voucher_service.core.formatting import euros, french_date
from voucher_service.programmes.models import Programme


class Outcome(StrEnum):
    passed = "pass"
    failed = "fail"
    unknown = "unknown"


class Result(StrEnum):
    eligible = "eligible"
    needs_review = "needs_review"
    ineligible = "ineligible"


# INSEE headcount bands ("tranche d'effectif salarié"): code → (fewest, most) employees.
HEADCOUNT_BANDS: dict[str, tuple[int, int | None]] = {
    "00": (0, 0), "01": (1, 2), "02": (3, 5), "03": (6, 9), "11": (10, 19), "12": (20, 49),
    "21": (50, 99), "22": (100, 199), "31": (200, 249), "32": (250, 499), "41": (500, 999),
    "42": (1000, 1999), "51": (2000, 4999), "52": (5000, 9999), "53": (10000, None),
}  # fmt: skip

RULE_LABELS = {
    "siret_valid": "Numéro SIRET valide",
    "programme_open": "Programme ouvert aux demandes",
    "company_active": "Entreprise active",
    "establishment_active": "Établissement ouvert",
    "department_in_region": "Établissement situé dans la région",
    "headcount": "Effectif salarié",
    "turnover": "Chiffre d'affaires",
    "de_minimis": "Plafond des aides de minimis",
    "theme_offered": "Thématique proposée",
    "not_already_beneficiary": "Pas déjà bénéficiaire du programme",
    "declarations_consistent": "Déclarations cohérentes avec l'annuaire",
}

THEME_LABELS = {
    "e-commerce": "Commerce en ligne",
    "cybersecurity": "Cybersécurité",
    "collaboration": "Outils collaboratifs",
}


def theme_label(theme: str) -> str:
    return THEME_LABELS.get(theme, theme)


@dataclass(frozen=True)
class Declaration:
    """What the applicant declared, as far as the rules are concerned."""

    siret: str
    theme: str
    headcount: int
    annual_turnover_eur: int
    de_minimis_aid_eur: int


@dataclass(frozen=True)
class Facts:
    """Everything the rules are decided on."""

    programme: Programme
    today: date
    declaration: Declaration
    registry: RegistryAnswer
    already_beneficiary: bool


@dataclass(frozen=True)
class RuleResult:
    rule: str
    outcome: Outcome
    reason: str
    data: dict[str, Any] = field(default_factory=dict)
    blocking: bool = True  # a failed non-blocking rule sends the application to review


def _result(rule: str, passed: bool | None, reason: str, **data: Any) -> RuleResult:
    outcome = Outcome.unknown if passed is None else Outcome.passed if passed else Outcome.failed
    return RuleResult(rule, outcome, reason, data)


def registry_unknown_reason(answer: RegistryAnswer) -> str:
    return {
        Lookup.offline: "L'annuaire des entreprises n'a pas été consulté (mode hors ligne).",
        Lookup.unreachable: "L'annuaire des entreprises n'a pas répondu ; vérification à refaire.",
        Lookup.not_found: "Ce SIRET est introuvable dans l'annuaire public (entreprise non "
        "diffusible ou numéro erroné).",
    }.get(answer.lookup, "L'annuaire des entreprises ne renseigne pas ce point.")


def siret_valid(facts: Facts) -> RuleResult:
    siret = facts.declaration.siret
    if siret_number.is_valid(siret):
        return _result("siret_valid", True, f"Le SIRET {siret} est bien formé.", siret=siret)
    return _result(
        "siret_valid", False, f"Le SIRET {siret} n'est pas un numéro valide.", siret=siret
    )


def programme_open(facts: Facts) -> RuleResult:
    programme, today = facts.programme, facts.today
    data = {"opens_on": programme.opens_on, "closes_on": programme.closes_on, "today": today}
    window = f"du {french_date(programme.opens_on)} au {french_date(programme.closes_on)}"
    if programme.is_open(today):
        return _result("programme_open", True, f"Le programme est ouvert {window}.", **data)
    if programme.closed_at is not None:
        closed = f"Le programme a été clôturé le {french_date(paris_today(programme.closed_at))}."
        return _result("programme_open", False, closed, **data)
    return _result(
        "programme_open", False, f"Le programme n'accepte les demandes que {window}.", **data
    )


def company_active(facts: Facts) -> RuleResult:
    company = facts.registry.company
    if company is None or company.state not in ("A", "C"):
        return _result("company_active", None, registry_unknown_reason(facts.registry))
    data = {"siren": company.siren, "etat_administratif": company.state}
    if company.state == "A":
        return _result("company_active", True, "L'entreprise est active dans l'annuaire.", **data)
    return _result("company_active", False, "L'entreprise est cessée selon l'annuaire.", **data)


def establishment_active(facts: Facts) -> RuleResult:
    company = facts.registry.company
    place = company.establishment if company else None
    if place is None or place.state not in ("A", "F"):
        reason = registry_unknown_reason(facts.registry)
        if company is not None:
            reason = "L'annuaire ne renvoie pas l'état de cet établissement."
        return _result("establishment_active", None, reason)
    data = {"siret": place.siret, "etat_administratif": place.state}
    if place.state == "A":
        return _result("establishment_active", True, "L'établissement est ouvert.", **data)
    return _result("establishment_active", False, "L'établissement est fermé.", **data)


def department_in_region(facts: Facts) -> RuleResult:
    company, allowed = facts.registry.company, facts.programme.departments
    place = company.establishment if company else None
    if place is None or place.department is None:
        reason = registry_unknown_reason(facts.registry)
        if company is not None:
            reason = "L'annuaire ne donne pas l'adresse de cet établissement"
            hidden = not (company.diffusible and (place is None or place.diffusible))
            reason += " (entreprise non diffusible)." if hidden else "."
        return _result("department_in_region", None, reason, departments=allowed)
    department = place.department
    data = {"department": department, "departments": allowed}
    where = f"L'établissement est situé {_in_department(department)}"
    if department in allowed:
        return _result("department_in_region", True, f"{where}.", **data)
    reason = f"{where}, hors de la région ({', '.join(allowed)})."
    return _result("department_in_region", False, reason, **data)


def _in_department(code: str) -> str:
    """'dans le département 13', or 'dans la collectivité d'outre-mer 987'."""
    if code in OVERSEAS_COLLECTIVITIES:
        return f"dans la collectivité d'outre-mer {code}"
    return f"dans le département {code}"


def band_range(band: str | None) -> tuple[int, int | None] | None:
    return HEADCOUNT_BANDS.get(band) if band else None


def _band_text(low: int, high: int | None) -> str:
    return f"{low} salariés ou plus" if high is None else f"{low} à {high} salariés"


def headcount(facts: Facts) -> RuleResult:
    """The registry's band decides when it lies wholly on one side of the ceiling;
    otherwise (band straddling the ceiling, unknown, or no registry) the declaration does."""
    declared, ceiling = facts.declaration.headcount, facts.programme.max_headcount
    band = facts.registry.company.headcount_band if facts.registry.company else None
    span = band_range(band)
    data: dict[str, Any] = {"declared": declared, "max_headcount": ceiling, "band": band}
    if span is not None and span[0] > ceiling:
        reason = f"L'annuaire indique {_band_text(*span)}, au-delà du plafond de {ceiling}."
        return _result("headcount", False, reason, source="registry", **data)
    settled = span is not None and span[1] is not None and span[1] <= ceiling
    source = "registry" if settled else "declaration"
    if declared <= ceiling:
        reason = f"Effectif déclaré de {declared}, dans le plafond de {ceiling} salariés."
        if settled and span is not None:
            reason = f"L'annuaire indique {_band_text(*span)}, dans le plafond de {ceiling}."
        return _result("headcount", True, reason, source=source, **data)
    reason = f"Effectif déclaré de {declared}, au-delà du plafond de {ceiling} salariés."
    return _result("headcount", False, reason, source="declaration", **data)


def turnover(facts: Facts) -> RuleResult:
    declared, ceiling = facts.declaration.annual_turnover_eur, facts.programme.max_turnover_eur
    data = {"declared_eur": declared, "max_turnover_eur": ceiling}
    amounts = f"{euros(declared * 100)} déclarés, plafond {euros(ceiling * 100)}"
    if declared <= ceiling:
        return _result("turnover", True, f"Chiffre d'affaires dans le plafond ({amounts}).", **data)
    return _result("turnover", False, f"Chiffre d'affaires trop élevé ({amounts}).", **data)


def de_minimis(facts: Facts) -> RuleResult:
    """Aid received over three years plus this cheque must stay within the ceiling."""
    aid_cents = facts.declaration.de_minimis_aid_eur * 100
    cheque_cents = facts.programme.cheque_amount_cents
    ceiling_cents = facts.programme.max_de_minimis_eur * 100
    data = {
        "declared_aid_eur": facts.declaration.de_minimis_aid_eur,
        "cheque_cents": cheque_cents,
        "max_de_minimis_eur": facts.programme.max_de_minimis_eur,
    }
    total = f"{euros(aid_cents)} déjà reçus + {euros(cheque_cents)} de chèque"
    if aid_cents + cheque_cents <= ceiling_cents:
        reason = f"Aides de minimis dans le plafond ({total} ≤ {euros(ceiling_cents)})."
        return _result("de_minimis", True, reason, **data)
    reason = (
        f"Le chèque dépasserait le plafond des aides de minimis ({total} > {euros(ceiling_cents)})."
    )
    return _result("de_minimis", False, reason, **data)


def theme_offered(facts: Facts) -> RuleResult:
    theme, themes = facts.declaration.theme, facts.programme.themes
    data = {"theme": theme, "themes": themes}
    label = theme_label(theme)
    if theme in themes:
        return _result("theme_offered", True, f"La thématique « {label} » est proposée.", **data)
    reason = f"La thématique « {label} » n'est pas proposée par ce programme."
    return _result("theme_offered", False, reason, **data)


def not_already_beneficiary(facts: Facts) -> RuleResult:
    if facts.already_beneficiary:
        reason = "Cette entreprise (même SIREN) a déjà obtenu un chèque de ce programme."
        return _result("not_already_beneficiary", False, reason)
    reason = "Aucun chèque de ce programme n'a déjà été accordé à cette entreprise."
    return _result("not_already_beneficiary", True, reason)


def _contradictions(declaration: Declaration, company: Company, max_turnover: int) -> list[str]:
    found: list[str] = []
    span = band_range(company.headcount_band)
    if span is not None:
        low, high = span
        if declaration.headcount < low or (high is not None and declaration.headcount > high):
            found.append(
                f"effectif déclaré de {declaration.headcount}, l'annuaire indique "
                f"{_band_text(low, high)}"
            )
    registry_turnover = company.turnover_eur
    if registry_turnover is not None and registry_turnover > max_turnover >= (
        declaration.annual_turnover_eur
    ):
        found.append(
            f"chiffre d'affaires déclaré de {euros(declaration.annual_turnover_eur * 100)}, "
            f"l'annuaire publie {euros(registry_turnover * 100)} ({company.turnover_year})"
        )
    return found


def declarations_consistent(facts: Facts) -> RuleResult:
    company = facts.registry.company
    if company is None:
        return _result("declarations_consistent", None, registry_unknown_reason(facts.registry))
    found = _contradictions(facts.declaration, company, facts.programme.max_turnover_eur)
    data = {"band": company.headcount_band, "registry_turnover_eur": company.turnover_eur}
    if found:
        reason = "À vérifier : " + " ; ".join(found) + "."
        result = _result("declarations_consistent", False, reason, **data)
        return RuleResult(result.rule, result.outcome, result.reason, result.data, blocking=False)
    reason = "Rien dans l'annuaire ne contredit les déclarations."
    return _result("declarations_consistent", True, reason, **data)


RULES: list[Callable[[Facts], RuleResult]] = [
    siret_valid,
    programme_open,
    company_active,
    establishment_active,
    department_in_region,
    headcount,
    turnover,
    de_minimis,
    theme_offered,
    not_already_beneficiary,
    declarations_consistent,
]


@dataclass(frozen=True)
class Report:
    result: Result
    rules: list[RuleResult]
    rules_version: int
    registry: Lookup
    registry_detail: str | None
    checked_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "result": self.result.value,
            "rules_version": self.rules_version,
            "registry": self.registry.value,
            "registry_detail": self.registry_detail,
            "checked_at": self.checked_at.isoformat(),
            "rules": [_jsonable(asdict(rule)) for rule in self.rules],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value.value if isinstance(value, StrEnum) else value


def decide(rules: list[RuleResult]) -> Result:
    if any(r.outcome is Outcome.failed and r.blocking for r in rules):
        return Result.ineligible
    if any(r.outcome is not Outcome.passed for r in rules):
        return Result.needs_review
    return Result.eligible


def evaluate(facts: Facts, checked_at: datetime) -> Report:
    rules = [rule(facts) for rule in RULES]
    return Report(
        result=decide(rules),
        rules=rules,
        rules_version=facts.programme.rules_version,
        registry=facts.registry.lookup,
        registry_detail=facts.registry.detail,
        checked_at=checked_at,
    )
