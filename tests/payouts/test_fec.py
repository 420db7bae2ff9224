from collections.abc import Iterator
from datetime import date

import pytest

from voucher_service.payouts.errors import (
    EntriesOutOfOrder,
    InvalidJournalEntry,
    UnbalancedEntry,
)
from voucher_service.payouts.fec import (
    FEC_COLUMNS,
    FEC_ENCODING,
    JournalEntry,
    Line,
    fec_filename,
    write_fec,
)

LEGAL_HEADER = (
    "JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|CompAuxNum|"
    "CompAuxLib|PieceRef|PieceDate|EcritureLib|Debit|Credit|EcritureLet|DateLet|ValidDate|"
    "Montantdevise|Idevise"
)


def payout(day: int, piece: str, cents: int, expert: str = "EXP000007") -> JournalEntry:
    return JournalEntry(
        journal_code="BQ",
        journal_label="Banque Région",
        date=date(2027, 3, day),
        piece_ref=piece,
        label=f"Paiement expert {expert}",
        lines=[
            Line("401000", "Fournisseurs experts", debit_cents=cents, aux_account=expert,
                 aux_label="Conseil Numérique SARL"),
            Line("512000", "Banque", credit_cents=cents),
        ],
    )  # fmt: skip


def redemption(day: int, piece: str, cents: int) -> JournalEntry:
    return JournalEntry(
        journal_code="OD",
        journal_label="Opérations diverses",
        date=date(2027, 3, day),
        piece_ref=piece,
        label="Chèque Mon coach digital utilisé",
        lines=[
            Line("657400", "Subventions aux entreprises", debit_cents=cents),
            Line("401000", "Fournisseurs experts", credit_cents=cents, aux_account="EXP000007"),
        ],
    )


def rows(entries: list[JournalEntry]) -> list[list[str]]:
    lines = list(write_fec(entries))
    assert all(line.endswith("\r\n") for line in lines)
    return [line.removesuffix("\r\n").split("|") for line in lines]


class TestWriteFec:
    def test_header_names_the_18_columns_in_legal_order(self) -> None:
        (header,) = rows([])
        assert "|".join(header) == LEGAL_HEADER
        assert tuple(header) == FEC_COLUMNS
        assert len(header) == 18

    def test_a_line_has_its_18_columns_formatted(self) -> None:
        _, debit, credit = rows([payout(5, "MCD-BATCH-000042", 150050)])
        assert dict(zip(FEC_COLUMNS, debit, strict=True)) == {
            "JournalCode": "BQ",
            "JournalLib": "Banque Région",
            "EcritureNum": "1",
            "EcritureDate": "20270305",
            "CompteNum": "401000",
            "CompteLib": "Fournisseurs experts",
            "CompAuxNum": "EXP000007",
            "CompAuxLib": "Conseil Numérique SARL",
            "PieceRef": "MCD-BATCH-000042",
            "PieceDate": "20270305",
            "EcritureLib": "Paiement expert EXP000007",
            "Debit": "1500,50",
            "Credit": "0,00",
            "EcritureLet": "",
            "DateLet": "",
            "ValidDate": "20270305",
            "Montantdevise": "",
            "Idevise": "",
        }
        assert (credit[11], credit[12], credit[6]) == ("0,00", "1500,50", "")

    def test_amounts_have_a_decimal_comma_and_no_grouping(self) -> None:
        table = rows([payout(1, "P1", 5), payout(2, "P2", 123456789)])
        assert [row[11] for row in table[1:]] == ["0,05", "0,00", "1234567,89", "0,00"]

    def test_piece_and_validation_dates_can_differ(self) -> None:
        entry = JournalEntry(
            "BQ", "Banque", date(2027, 3, 5), "P", "L", payout(5, "P", 1).lines,
            piece_date=date(2027, 3, 1), validated_on=date(2027, 3, 6),
        )  # fmt: skip
        _, row, _ = rows([entry])
        assert (row[3], row[9], row[15]) == ("20270305", "20270301", "20270306")

    def test_entries_are_numbered_without_gaps_per_journal(self) -> None:
        entries = [
            payout(1, "P1", 100),
            redemption(1, "R1", 100),
            redemption(2, "R2", 200),
            payout(3, "P2", 200),
            payout(3, "P3", 300),
            redemption(4, "R3", 300),
        ]
        numbers: dict[str, list[str]] = {}
        for row in rows(entries)[1:]:
            numbers.setdefault(row[0], []).append(row[2])
        assert numbers == {
            "BQ": ["1", "1", "2", "2", "3", "3"],
            "OD": ["1", "1", "2", "2", "3", "3"],
        }

    def test_every_entry_balances(self) -> None:
        totals: dict[tuple[str, str], int] = {}
        for row in rows([payout(1, "P1", 100), redemption(2, "R1", 250), payout(3, "P2", 7)])[1:]:
            debit, credit = (int(amount.replace(",", "")) for amount in row[11:13])
            totals[row[0], row[2]] = totals.get((row[0], row[2]), 0) + debit - credit
        assert totals == {("BQ", "1"): 0, ("OD", "1"): 0, ("BQ", "2"): 0}

    def test_an_unbalanced_entry_raises_before_any_of_its_lines(self) -> None:
        bad = JournalEntry(
            "BQ", "Banque", date(2027, 3, 2), "BAD", "Déséquilibrée",
            [Line("401000", "Fournisseurs", debit_cents=100),
             Line("512000", "Banque", credit_cents=99)],
        )  # fmt: skip
        written: list[str] = []
        with pytest.raises(UnbalancedEntry, match="1,00 ≠ crédit 0,99"):
            written.extend(write_fec([payout(1, "P1", 100), bad]))
        assert len(written) == 3
        assert not any("BAD" in line for line in written)

    @pytest.mark.parametrize(
        "lines",
        [
            [],
            [Line("401000", "F", debit_cents=-100), Line("512000", "B", credit_cents=-100)],
            [Line("401000", "F", debit_cents=100, credit_cents=100)],
            [Line("401000", "F"), Line("512000", "B")],
        ],
    )
    def test_lines_must_be_one_sided_and_positive(self, lines: list[Line]) -> None:
        entry = JournalEntry("BQ", "Banque", date(2027, 3, 1), "P", "L", lines)
        with pytest.raises(InvalidJournalEntry):
            list(write_fec([entry]))

    def test_entries_out_of_validation_order_are_refused_across_journals(self) -> None:
        with pytest.raises(EntriesOutOfOrder):
            list(write_fec([payout(3, "P1", 100), redemption(2, "R1", 100)]))

    def test_an_entry_dated_earlier_but_validated_later_is_written(self) -> None:
        late = JournalEntry(
            "BQ", "Banque", date(2027, 3, 1), "P0", "L", payout(1, "P0", 5).lines,
            validated_on=date(2027, 3, 4),
        )  # fmt: skip
        table = rows([payout(3, "P1", 100), late])
        assert [(row[2], row[3], row[15]) for row in table[1:]] == [
            ("1", "20270303", "20270303"),
            ("1", "20270303", "20270303"),
            ("2", "20270301", "20270304"),
            ("2", "20270301", "20270304"),
        ]

    def test_text_never_breaks_the_columns_and_encodes_in_latin_9(self) -> None:
        entry = JournalEntry(
            "BQ", "Banque | Région\r\n", date(2027, 3, 1), "P|1",
            "L’œuvre – 2 000 € \t« ok »\nfin 株",
            [Line("401000", "F", debit_cents=1), Line("512000", "B", credit_cents=1)],
        )  # fmt: skip
        text = "".join(write_fec([entry]))
        text.encode(FEC_ENCODING)
        _, first, _ = rows([entry])
        assert len(first) == 18
        assert first[1] == "Banque   Région"
        assert first[8] == "P 1"
        assert first[10] == "L'œuvre - 2 000 €  « ok » fin Zhu"

    def test_entries_are_read_lazily(self) -> None:
        consumed: list[int] = []

        def entries() -> Iterator[JournalEntry]:
            for day in range(1, 29):
                consumed.append(day)
                yield payout(day, f"P{day}", 100)

        lines = write_fec(entries())
        assert next(lines).startswith("JournalCode|")
        assert consumed == []
        next(lines)
        assert consumed == [1]


class TestFecFilename:
    def test_siren_fec_and_closing_date(self) -> None:
        assert fec_filename("231 300 021", date(2027, 12, 31)) == "231300021FEC20271231.txt"

    def test_an_invalid_siren_is_refused(self) -> None:
        with pytest.raises(ValueError, match="SIREN"):
            fec_filename("231300022", date(2027, 12, 31))
