"""How people in France read money and time: shared by pages, e-mails, PDFs and exports."""

from datetime import date, datetime

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
