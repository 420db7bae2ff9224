"""CSV reports that open as they should in French Excel, streamed row by row.

French Excel reads ';' as the separator and a decimal comma, and needs a UTF-8 byte order
mark to show accents; lines end with CRLF. Amounts are given as :class:`Money` (integer
cents) and written as numbers Excel can add up ('-1234,56'); dates as JJ/MM/AAAA, times
in Paris time. A SIRET or SIREN is given as :class:`Siret` and written spaced
('732 829 320 00074'): a bare 14-digit number would be shown as 7,32829E+13.

A cell that a spreadsheet would run as a formula (text starting with = + - @, a tab or
a carriage return: CSV injection) is written with a leading apostrophe, which Excel shows
as plain text. Numbers written by this module are never touched, negative or not.
"""

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from voucher_service.core.clock import PARIS
from voucher_service.core.formatting import spaced_siret

BYTE_ORDER_MARK = "\ufeff"
SEPARATOR = ";"
LINE_END = "\r\n"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in euro cents, for a cell that Excel should read as a number."""

    cents: int


@dataclass(frozen=True, slots=True)
class Siret:
    """A SIRET or a SIREN, for a cell that Excel should keep as text."""

    number: str


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The CSV text, one line at a time: the byte order mark and the header first.

    Each row is read from ``rows`` only when its line is asked for. Encode each piece as
    UTF-8. Raises ``ValueError`` for a row whose length differs from the header's.
    """
    last_line = _LastLine()
    writer = csv.writer(last_line, delimiter=SEPARATOR, lineterminator=LINE_END)
    writer.writerow([neutralise(str(title)) for title in header])
    yield BYTE_ORDER_MARK + last_line.text
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise ValueError(f"row {number} has {len(row)} cells for {len(header)} columns")
        writer.writerow([cell_text(value) for value in row])
        yield last_line.text


def cell_text(value: object) -> str:
    """What a cell shows: numbers and dates French style, any other text neutralised."""
    if value is None:
        return ""
    if isinstance(value, Money):
        return _cents(value.cents)
    if isinstance(value, Siret):
        return neutralise(spaced_siret(value.number))
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f").replace(".", ",")
    if isinstance(value, float):
        raise TypeError("floats are not written: use Money(cents) or Decimal")
    if isinstance(value, datetime):
        return _paris_time(value)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return neutralise(str(value))


def neutralise(text: str) -> str:
    """'=HYPERLINK(...)' → "'=HYPERLINK(...)": text a spreadsheet will not evaluate."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole},{rest:02d}"


def _paris_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("times must carry their time zone")
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


class _LastLine:
    """The file csv.writer writes to: it keeps the line just written, nothing more."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)
