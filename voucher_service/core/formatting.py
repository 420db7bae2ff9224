"""How people in France read money and time: shared by pages, e-mails, PDFs and exports."""

import re
from datetime import date, datetime

from stdnum import exceptions as stdnum_errors
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from voucher_service.core.clock import PARIS


def euros(cents: int | None) -> str:
    """1234567 → '12 345,67 €' with narrow no-break spaces, as French readers expect."""
    if cents is None:
        return "—"
    whole, rest = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", "\u202f")
    return f"{'-' if cents < 0 else ''}{grouped},{rest:02d}\u00a0€"


_AMOUNT = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")


def parse_euros(text: str) -> int:
    """'1 234,5 €', '2000' or '150.00' → cents; ValueError with a French message otherwise."""
    cleaned = re.sub(r"[\s\u00a0\u202f€]", "", text)
    match = _AMOUNT.match(cleaned)
    if not match:
        raise ValueError("Indiquez un montant en euros, par exemple 1 500,00.")
    cents = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if cents <= 0:
        raise ValueError("Le montant doit être supérieur à zéro.")
    return cents


def paris_datetime(value: datetime | None) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if value else "—"


def french_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def spaced_siret(number: str) -> str:
    """73282932000074 → '732 829 320 00074', 732829320 → '732 829 320': how people read a
    SIRET or a SIREN, and text that Excel keeps as typed. Anything else is left as is."""
    if not number.isdigit():
        return number
    if len(number) == 14:
        return stdnum_siret.format(number)
    if len(number) == 9:
        return stdnum_siren.format(number)
    return number


FILTERS = {"euros": euros, "paris_datetime": paris_datetime, "french_date": french_date}


# python-stdnum says why a number is wrong in English; people read the reason in French.
STDNUM_REASONS: dict[type[stdnum_errors.ValidationError], str] = {
    stdnum_errors.InvalidChecksum: "la clé de contrôle ne correspond pas, vérifiez le numéro",
    stdnum_errors.InvalidLength: "le nombre de caractères n'est pas le bon",
    stdnum_errors.InvalidFormat: "il contient des caractères inattendus",
    stdnum_errors.InvalidComponent: "une partie du numéro n'existe pas (pays, banque…)",
}


def number_refusal(kind: str, error: stdnum_errors.ValidationError) -> str:
    """'IBAN invalide : la clé de contrôle ne correspond pas, vérifiez le numéro'."""
    reason = next(
        (text for cls, text in STDNUM_REASONS.items() if isinstance(error, cls)), "numéro inconnu"
    )
    return f"{kind} invalide : {reason}"
