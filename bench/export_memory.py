"""Streaming cost of the French Excel CSV export, against Python's plain csv.writer.

Both write the same 200,000 cheque rows, made on demand, into a sink that throws the
text away: the plain writer with raw values, ours with French formatting and formula
neutralisation. Speed is measured without tracemalloc, memory with it (peak allocated
while writing, above what was allocated before).

    .venv/bin/python bench/export_memory.py [--rows N]
"""

import argparse
import csv
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from voucher_service.payouts.csv_export import Money, write_csv

HEADER = ["Code", "Expert", "Montant", "Utilisé le", "Statut"]
STATUSES = ("issued", "redeemed", "paid", "=discrepancy")


class NullSink:
    def __init__(self) -> None:
        self.characters = 0

    def write(self, text: str) -> int:
        self.characters += len(text)
        return len(text)


def cheque_rows(count: int, wrap_money: bool) -> Iterator[list[object]]:
    first_day = date(2027, 1, 1)
    for number in range(count):
        cents = 200_000 - number % 7 * 12_345
        yield [
            f"MCD-{number:04X}-{number % 9973:04d}",
            f"Conseil Numérique n°{number % 500}",
            Money(cents) if wrap_money else cents,
            first_day + timedelta(days=number % 365),
            STATUSES[number % len(STATUSES)],
        ]


def plain_csv_writer(count: int) -> int:
    sink = NullSink()
    writer = csv.writer(sink, delimiter=";")
    writer.writerow(HEADER)
    for row in cheque_rows(count, wrap_money=False):
        writer.writerow(row)
    return sink.characters


def french_excel_export(count: int) -> int:
    sink = NullSink()
    for line in write_csv(HEADER, cheque_rows(count, wrap_money=True)):
        sink.write(line)
    return sink.characters


def rows_per_second(export: Callable[[int], int], count: int) -> float:
    started = time.perf_counter()
    export(count)
    return count / (time.perf_counter() - started)


def peak_growth(export: Callable[[int], int], count: int) -> int:
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        export(count)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    count = parser.parse_args().rows
    exports = {"csv.writer (baseline)": plain_csv_writer, "write_csv": french_excel_export}
    speed = {name: rows_per_second(export, count) for name, export in exports.items()}
    memory = {name: peak_growth(export, count) for name, export in exports.items()}
    output_mb = french_excel_export(count) / 1e6
    print(f"{count:,} rows, {output_mb:.1f} M characters written by write_csv")
    for name in exports:
        print(
            f"{name:<22} {speed[name]:>11,.0f} rows/s   peak memory +{memory[name] / 1024:,.0f} KiB"
        )
    baseline, ours = exports
    print(f"speed ratio write_csv / baseline: {speed[ours] / speed[baseline]:.2f}")
    print(
        f"memory: write_csv peak is {memory[ours] / max(memory[baseline], 1):.2f}× the baseline's"
    )


if __name__ == "__main__":
    main()
