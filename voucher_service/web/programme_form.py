"""The programme form: what an administrator types, read into the API's shapes, and
pydantic's refusals said in French beside each field."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from voucher_service.applications.eligibility import THEME_LABELS
from voucher_service.core.formatting import parse_euros
from voucher_service.programmes.models import Programme

TEXT_FIELDS = (
    "name",
    "contact_email",
    "cheque_amount",
    "budget",
    "opens_on",
    "closes_on",
    "cheque_validity_days",
    "departments",
    "max_headcount",
    "max_turnover_eur",
    "max_de_minimis_eur",
)
MONEY_FIELDS = {"cheque_amount": "cheque_amount_cents", "budget": "budget_cents"}
FORM_NAMES = {api: form for form, api in MONEY_FIELDS.items()}
FIELD_MESSAGES = {
    "name": "Indiquez un nom de 3 à 120 caractères.",
    "contact_email": "Indiquez une adresse e-mail valide.",
    "cheque_amount": "Indiquez un montant de chèque entre 0,01 € et 100 000 €.",
    "budget": "Indiquez une enveloppe en euros, d'au moins un chèque.",
    "opens_on": "Indiquez la date d'ouverture.",
    "closes_on": "Indiquez la date de clôture.",
    "cheque_validity_days": "Indiquez une durée de validité de 1 à 1 095 jours.",
    "departments": "Indiquez des numéros de département séparés par des virgules (13, 83…).",
    "max_headcount": "Indiquez un effectif maximal (nombre entier positif).",
    "max_turnover_eur": "Indiquez un chiffre d'affaires maximal en euros (nombre entier).",
    "max_de_minimis_eur": "Indiquez un plafond de minimis en euros (nombre entier).",
    "themes": "Cochez au moins une thématique.",
}
Model = TypeVar("Model", bound=BaseModel)
MODEL_ERRORS = {
    "window_order": ("closes_on", "La date de clôture précède la date d'ouverture."),
    "budget_below_cheque": ("budget", "L'enveloppe ne couvre pas un seul chèque."),
}


@dataclass
class ProgrammeForm:
    """What was typed (kept to show again), and the French error of each field."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, programme: Programme) -> "ProgrammeForm":
        """The form filled with a programme's current values."""
        values: dict[str, Any] = {
            name: getattr(programme, name, "") for name in TEXT_FIELDS if hasattr(programme, name)
        }
        values["cheque_amount"] = _euros_text(programme.cheque_amount_cents)
        values["budget"] = _euros_text(programme.budget_cents)
        values["departments"] = ", ".join(programme.departments)
        values["themes"] = list(programme.themes)
        return cls(values)

    def read(self, form: FormData, model: type[Model], skip: Iterable[str] = ()) -> Model | None:
        """The typed values as ``model``, or None with ``errors`` set."""
        self.values = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
        self.values["themes"] = [str(theme) for theme in form.getlist("themes")]
        body = self._body(set(skip))
        try:
            return None if self.errors else model.model_validate(body)
        except ValidationError as error:
            self.refused(error)
            return None

    def _body(self, skip: set[str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name in TEXT_FIELDS:
            if name in skip:
                continue
            text = self.values[name]
            if name in MONEY_FIELDS:
                body[MONEY_FIELDS[name]] = self.cents(name)
            elif name == "departments":
                body[name] = [part for part in text.replace(";", ",").split(",") if part.strip()]
                body[name] = [part.strip() for part in body[name]]
            else:
                body[name] = _number(text) if name.startswith(("max_", "cheque_")) else text
        body["themes"] = self.values["themes"]
        return body

    def cents(self, name: str) -> int | None:
        """The amount typed in euros, in cents; None with the field's error set."""
        try:
            return parse_euros(self.values[name])
        except ValueError as error:
            self.errors[name] = str(error)
            return None

    def refused(self, error: ValidationError) -> None:
        """Each refused field's French message, beside the field."""
        for detail in error.errors():
            name, message = _french(detail)
            self.errors.setdefault(name, message)


def _french(detail: ErrorDetails) -> tuple[str, str]:
    if detail["type"] in MODEL_ERRORS:
        return MODEL_ERRORS[detail["type"]]
    api_name = str(detail["loc"][0]) if detail["loc"] else "name"
    name = FORM_NAMES.get(api_name, api_name)
    return name, FIELD_MESSAGES.get(name, "Valeur invalide.")


def _number(text: str) -> int | str:
    """A whole number typed with or without spaces; otherwise the text, for pydantic to refuse."""
    compact = text.replace(" ", "").replace("\u202f", "").replace("\u00a0", "")
    return int(compact) if compact.isdigit() else text


def _euros_text(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return f"{whole},{rest:02d}" if rest else str(whole)


def theme_choices(programme: Programme | None) -> dict[str, str]:
    """The themes an administrator may tick: the known ones and the programme's own."""
    own = {theme: THEME_LABELS.get(theme, theme) for theme in programme.themes} if programme else {}
    return {**THEME_LABELS, **own}
