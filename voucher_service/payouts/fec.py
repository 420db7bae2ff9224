"""The Fichier des Écritures Comptables (FEC) that French tax auditors ask for.

Article A47 A-1 of the Livre des procédures fiscales fixes the format: one row per
accounting line, the 18 columns below in that order, a header row naming them, one
separator ('|' here), dates as AAAAMMJJ, amounts with a decimal comma and no thousands
separator. Entries (``EcritureNum``) are numbered per journal in date order without a
gap, the file in the order of validation (``ValidDate``), and each one balances. The
writer streams: a year of entries is never held at once.

The text is kept within ISO-8859-15 (one of the character sets the article allows), so
that ``"".join(write_fec(...)).encode(FEC_ENCODING)`` cannot fail.
"""

import datetime
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from stdnum.exceptions import ValidationError
from stdnum.fr import siren as stdnum_siren
from text_unidecode import unidecode

from voucher_service.payouts.errors import EntriesOutOfOrder, InvalidJournalEntry, UnbalancedEntry

FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
FEC_SEPARATOR = "|"
FEC_ENCODING = "iso-8859-15"
LINE_END = "\r\n"
_FORBIDDEN_IN_TEXT = str.maketrans({FEC_SEPARATOR: " ", "\r": " ", "\n": " ", "\t": " "})


@dataclass(frozen=True, slots=True)
class Line:
    """One side of an entry: an account debited or credited, in cents."""

    account: str
    account_label: str
    debit_cents: int = 0
    credit_cents: int = 0
    aux_account: str = ""
    aux_label: str = ""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An accounting entry: lines that balance, on one date, in one journal.

    The piece date and the validation date default to the entry's date.
    """

    journal_code: str
    journal_label: str
    date: datetime.date
    piece_ref: str
    label: str
    lines: Sequence[Line]
    piece_date: datetime.date | None = None
    validated_on: datetime.date | None = None


@dataclass(frozen=True, slots=True)
class FecEntry:
    """One row of the file, its fields in the legal order of the 18 columns."""

    journal_code: str
    journal_label: str
    entry_number: int
    entry_date: date
    account: str
    account_label: str
    aux_account: str
    aux_label: str
    piece_ref: str
    piece_date: date
    label: str
    debit_cents: int
    credit_cents: int
    lettering: str = ""
    lettering_date: date | None = None
    validated_on: date | None = None
    foreign_amount_cents: int | None = None
    currency: str = ""

    def cells(self) -> tuple[str, ...]:
        return (
            _text(self.journal_code),
            _text(self.journal_label),
            str(self.entry_number),
            _date(self.entry_date),
            _text(self.account),
            _text(self.account_label),
            _text(self.aux_account),
            _text(self.aux_label),
            _text(self.piece_ref),
            _date(self.piece_date),
            _text(self.label),
            _amount(self.debit_cents),
            _amount(self.credit_cents),
            _text(self.lettering),
            _date(self.lettering_date),
            _date(self.validated_on),
            _amount(self.foreign_amount_cents),
            _text(self.currency),
        )


def fec_filename(siren: str, closing_date: date) -> str:
    """'{SIREN}FEC{AAAAMMJJ}.txt', the name the article requires, from the closing date."""
    try:
        number = stdnum_siren.validate(siren)
    except ValidationError as error:
        raise ValueError(f"invalid SIREN {siren!r}: {error}") from None
    return f"{number}FEC{_date(closing_date)}.txt"


def write_fec(entries: Iterable[JournalEntry]) -> Iterator[str]:
    """The file's lines, header first, each ending with CRLF; streams as it goes.

    Raises :class:`UnbalancedEntry` or :class:`EntriesOutOfOrder` before writing any
    line of the offending entry (the lines already yielded stay yielded).
    """
    yield _row(FEC_COLUMNS)
    for row in fec_rows(entries):
        yield _row(row.cells())


def fec_rows(entries: Iterable[JournalEntry]) -> Iterator[FecEntry]:
    """The rows of the file, entries numbered 1, 2, 3... in each journal."""
    numbering = _JournalNumbering()
    for entry in entries:
        _check_balanced(entry)
        number = numbering.next_number(entry)
        for line in entry.lines:
            yield _fec_entry(entry, number, line)


def _fec_entry(entry: JournalEntry, number: int, line: Line) -> FecEntry:
    return FecEntry(
        journal_code=entry.journal_code,
        journal_label=entry.journal_label,
        entry_number=number,
        entry_date=entry.date,
        account=line.account,
        account_label=line.account_label,
        aux_account=line.aux_account,
        aux_label=line.aux_label,
        piece_ref=entry.piece_ref,
        piece_date=entry.piece_date or entry.date,
        label=entry.label,
        debit_cents=line.debit_cents,
        credit_cents=line.credit_cents,
        validated_on=entry.validated_on or entry.date,
    )


class _JournalNumbering:
    """Gapless numbers per journal, the file in the order of validation: an entry validated
    before the one written last is refused (its own date may be earlier, as when a bank
    booking of the 31st is imported on the 2nd)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._validated: date | None = None

    def next_number(self, entry: JournalEntry) -> int:
        validated = entry.validated_on or entry.date
        if self._validated is not None and validated < self._validated:
            raise EntriesOutOfOrder(
                f"Journal {entry.journal_code} : la pièce {entry.piece_ref} validée le "
                f"{validated:%d/%m/%Y} vient après une écriture validée le "
                f"{self._validated:%d/%m/%Y}."
            )
        self._validated = validated
        number = self._last.get(entry.journal_code, 0) + 1
        self._last[entry.journal_code] = number
        return number


def _check_balanced(entry: JournalEntry) -> None:
    where = f"pièce {entry.piece_ref} (journal {entry.journal_code})"
    if not entry.lines:
        raise InvalidJournalEntry(f"Écriture sans ligne : {where}.")
    for line in entry.lines:
        amounts = (line.debit_cents, line.credit_cents)
        if min(amounts) < 0 or 0 not in amounts or amounts == (0, 0):
            raise InvalidJournalEntry(
                f"Ligne {line.account} : un débit ou un crédit positif, pas les deux ; {where}."
            )
    debit = sum(line.debit_cents for line in entry.lines)
    credit = sum(line.credit_cents for line in entry.lines)
    if debit != credit:
        raise UnbalancedEntry(f"Débit {_amount(debit)} ≠ crédit {_amount(credit)} : {where}.")


def _row(cells: Sequence[str]) -> str:
    return FEC_SEPARATOR.join(cells) + LINE_END


def _text(value: str) -> str:
    """One field's text: no separator or line break, every character within ISO-8859-15."""
    cleaned = value.translate(_FORBIDDEN_IN_TEXT)
    if not cleaned.isascii():
        cleaned = "".join(_latin9(character) for character in cleaned)
    return cleaned.strip()


def _latin9(character: str) -> str:
    try:
        character.encode(FEC_ENCODING)
    except UnicodeEncodeError:
        ascii_text: str = unidecode(character)
        return ascii_text.translate(_FORBIDDEN_IN_TEXT)
    return character


def _date(value: date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _amount(cents: int | None) -> str:
    """150050 → '1500,50': decimal comma, no thousands separator."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole},{rest:02d}"


class FecStream:
    """:func:`write_fec` in pieces, for entries read chunk by chunk from the database:
    the numbering and the order check carry over from one chunk to the next."""

    def __init__(self) -> None:
        self._numbering = _JournalNumbering()

    def header(self) -> str:
        return _row(FEC_COLUMNS)

    def lines(self, entries: Iterable[JournalEntry]) -> Iterator[str]:
        for entry in entries:
            _check_balanced(entry)
            number = self._numbering.next_number(entry)
            for line in entry.lines:
                yield _row(_fec_entry(entry, number, line).cells())
