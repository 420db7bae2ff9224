"""The reconciliation export of 200,000 cheques from PostgreSQL: rows per second and
memory growth, against PostgreSQL's own `COPY ... TO STDOUT` of the same rows in the same
run.

    .venv/bin/python bench/export_database.py [--cheques 200000]

Memory is the process's resident set (VmRSS), sampled every 20 ms while the export runs,
above what it was just before.
"""

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from voucher_service.core.clock import paris_today

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.databases import fresh_database_url, make_settings
from tests.fixtures.factories import create_programme
from voucher_service.core import schema
from voucher_service.core.clock import utcnow
from voucher_service.core.db import Database
from voucher_service.payouts import exports
from voucher_service.vouchers.models import Voucher

ROWS = (
    "SELECT code, company_name, siret, amount_cents, issued_at, balance_cents, status"
    " FROM voucher ORDER BY issued_at, id"
)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def seed(database: Database, cheques: int) -> None:
    async with database.sessionmaker() as session, session.begin():
        programme = await create_programme(session, budget_cents=cheques * 200_000)
    today, now = paris_today(), utcnow()
    for first in range(0, cheques, 10_000):
        rows = [
            {
                "code": f"MCD-BENCH-{n:09d}",
                "programme_id": programme.id,
                "application_id": n,
                "company_name": f"Entreprise {n}",
                "siret": "73282932000074",
                "beneficiary_email": f"c{n}@example.fr",
                "amount_cents": 200_000,
                "balance_cents": 200_000,
                "valid_from": today,
                "valid_until": today + timedelta(days=180),
                "status": "issued",
                "token": "bench",
                "key_id": "bench",
                "issued_at": now,
                "updated_at": now,
            }
            for n in range(first, min(first + 10_000, cheques))
        ]
        async with database.sessionmaker() as session, session.begin():
            await session.execute(insert(Voucher), rows)


async def measured(work: Callable[[], Awaitable[int]]) -> tuple[float, int, int]:
    """(seconds, bytes produced, peak RSS growth in KiB) of one export."""
    before, peak, done = rss_kib(), rss_kib(), False

    async def sample() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, rss_kib())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    produced = await work()
    elapsed, done = time.perf_counter() - started, True
    await sampler
    return elapsed, produced, peak - before


async def ours(database: Database) -> int:
    async with database.sessionmaker() as session:
        chunks: AsyncIterator[bytes] = exports.reconciliation_csv(
            session, paris_today() - timedelta(days=1), paris_today() + timedelta(days=1)
        )
        return sum([len(chunk) async for chunk in chunks])


async def copy(database: Database) -> int:
    produced = 0

    async def sink(data: bytes) -> None:
        nonlocal produced
        produced += len(data)

    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert raw.driver_connection is not None
        await raw.driver_connection.copy_from_query(ROWS, output=sink, format="csv", delimiter=";")
    return produced


async def main(cheques: int) -> None:
    async with fresh_database_url("postgresql", Path(".")) as url:
        database = Database.from_settings(make_settings(url))
        await schema.upgrade(database.engine)
        await seed(database, cheques)
        base_s, base_bytes, base_kib = await measured(lambda: copy(database))
        our_s, our_bytes, our_kib = await measured(lambda: ours(database))
        await database.engine.dispose()
    print(f"{cheques:,} cheques")
    print(
        f"COPY TO STDOUT (baseline)  {cheques / base_s:10,.0f} rows/s  {base_bytes / 1e6:6.1f} MB"
        f"  RSS +{base_kib / 1024:.1f} MiB"
    )
    print(
        f"reconciliation.csv         {cheques / our_s:10,.0f} rows/s  {our_bytes / 1e6:6.1f} MB"
        f"  RSS +{our_kib / 1024:.1f} MiB"
    )
    print(
        f"ratio export / COPY: {base_s / our_s:.2f}× speed; memory growth "
        f"{our_kib / 1024:.1f} MiB (limit 50 MiB)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cheques", type=int, default=200_000)
    os.environ.setdefault(
        "MCD_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    asyncio.run(main(parser.parse_args().cheques))
