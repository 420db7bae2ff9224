import csv
import io
import re
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voucher_service.payouts.csv_export import Money, Siret, write_csv

FORMATTED_NUMBER = re.compile(r"-?[0-9]+(,[0-9]+)?")
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


def read_back(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[list[str]]:
    """Parse the output as a French Excel export is read: UTF-8 with BOM, ';'."""
    data = "".join(write_csv(header, rows)).encode("utf-8")
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


class TestWriteCsv:
    def test_siret_and_siren_stay_text_in_french_excel(self) -> None:
        """Spaced as people read them: Excel keeps the cell as typed, not 7,32829E+13, and
        a leading zero stays."""
        rows: list[Sequence[object]] = [
            [Siret("73282932000074"), Siret("732829320")],
            [Siret("05602054600019"), Siret("")],
        ]
        assert read_back(["SIRET", "SIREN"], rows)[1:] == [
            ["732 829 320 00074", "732 829 320"],
            ["056 020 546 00019", ""],
        ]

    def test_reads_back_with_the_values(self) -> None:
        rows: list[Sequence[object]] = [
            ["MCD-7K3Q-9XPA", "Conseil Numérique; Études", Money(200000), date(2027, 3, 1)],
            ["MCD-AAAA-1111", 'Cabinet "Azur"\nMarseille', Money(-5), None],
        ]
        assert read_back(["Code", "Expert", "Montant (€)", "Payé le"], rows) == [
            ["Code", "Expert", "Montant (€)", "Payé le"],
            ["MCD-7K3Q-9XPA", "Conseil Numérique; Études", "2000,00", "01/03/2027"],
            ["MCD-AAAA-1111", 'Cabinet "Azur"\nMarseille', "-0,05", ""],
        ]

    def test_bom_first_semicolons_and_crlf(self) -> None:
        lines = list(write_csv(["a", "b"], [[1, 2], [3, 4]]))
        assert lines == ["\ufeffa;b\r\n", "1;2\r\n", "3;4\r\n"]

    @pytest.mark.parametrize(
        ("value", "shown"),
        [
            (Money(0), "0,00"),
            (Money(123456789), "1234567,89"),
            (Money(-123456), "-1234,56"),
            (Decimal("12.50"), "12,50"),
            (-7, "-7"),
            (True, "oui"),
            (False, "non"),
            (date(2027, 1, 5), "05/01/2027"),
            (datetime(2027, 1, 15, 12, 0, tzinfo=UTC), "15/01/2027 13:00"),
            (datetime(2027, 7, 15, 12, 0, tzinfo=UTC), "15/07/2027 14:00"),
            (None, ""),
        ],
    )
    def test_values_are_written_for_french_excel(self, value: object, shown: str) -> None:
        assert read_back(["x"], [[value]])[1] == [shown]

    @pytest.mark.parametrize(
        "payload",
        [
            '=HYPERLINK("http://evil.example","Cliquez")',
            "=cmd|' /C calc'!A0",
            "+33 4 91 00 00 00",
            "-2+3",
            "@SUM(A1:A9)",
            "\t=1+1",
            "\r=1+1",
        ],
    )
    def test_formulas_are_neutralised(self, payload: str) -> None:
        assert read_back([payload], [[payload]]) == [["'" + payload], ["'" + payload]]

    def test_refuses_floats_and_naive_times(self) -> None:
        with pytest.raises(TypeError, match="Money"):
            list(write_csv(["x"], [[12.5]]))
        with pytest.raises(ValueError, match="time zone"):
            list(write_csv(["x"], [[datetime(2027, 1, 1, 12, 0)]]))

    def test_refuses_a_row_of_the_wrong_length(self) -> None:
        with pytest.raises(ValueError, match="row 2 has 1 cells for 2 columns"):
            list(write_csv(["a", "b"], [[1, 2], [3]]))


cells = st.one_of(
    st.text(),
    st.sampled_from(["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "-", "=", "'=1"]),
    st.integers(),
    st.builds(Money, st.integers(min_value=-(10**12), max_value=10**12)),
    st.none(),
    st.dates(),
)


@given(st.lists(st.lists(cells, min_size=3, max_size=3), max_size=8))
def test_no_cell_can_start_a_formula(rows: list[list[object]]) -> None:
    for written_row, row in zip(read_back(["a", "b", "c"], rows)[1:], rows, strict=True):
        for written, value in zip(written_row, row, strict=True):
            assert not written.startswith(DANGEROUS_START) or FORMATTED_NUMBER.fullmatch(written)
            if isinstance(value, str):
                assert written in (value, "'" + value)


class CountedRows:
    """Cheque rows made on demand, counting how many were asked for."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.produced = 0

    def __iter__(self) -> Iterator[list[object]]:
        for number in range(self.count):
            self.produced += 1
            yield [f"MCD-{number:08d}", "Conseil Numérique", Money(number), date(2027, 3, 1)]


HEADER = ["Code", "Expert", "Montant", "Date"]


def test_two_hundred_thousand_rows_are_consumed_one_at_a_time() -> None:
    rows = CountedRows(200_000)
    lines = write_csv(HEADER, rows)
    next(lines)
    assert rows.produced == 0
    for written, _ in enumerate(lines, start=1):
        assert rows.produced == written
    assert rows.produced == 200_000


def peak_memory_writing(count: int) -> int:
    tracemalloc.start()
    try:
        for _ in write_csv(HEADER, CountedRows(count)):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_whatever_the_number_of_rows() -> None:
    small, large = peak_memory_writing(2_000), peak_memory_writing(20_000)
    assert large < small + 10_000
    assert large < 300_000  # csv.writer's own 128 KiB buffer; the 20,000 lines weigh 1 MB
