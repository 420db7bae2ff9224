"""Redemption latency while a payout export runs, against the same load without one, on
PostgreSQL through `voucher-service serve --workers 2`.

    .venv/bin/python bench/latency_during_export.py [--rate 25] [--seconds 10] [--cheques 100000]

Redemptions arrive at a steady rate (an open loop: each starts at its scheduled time,
whatever the others do), after two seconds of warm-up: first alone, then while an
accountant downloads the reconciliation CSV of `--cheques` cheques over and over. Prints,
for both phases, the share of redemptions slower than 100 ms, p50 and p99, and their ratio.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx

from voucher_service.core.clock import paris_today

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from export_database import seed as seed_cheques

from tests.fixtures.databases import fresh_database_url, make_settings
from tests.fixtures.factories import bearer, create_user
from tests.fixtures.servers import serve
from tests.fixtures.vouchers import seed_redemption_load
from voucher_service.core.auth.models import Role
from voucher_service.core.db import Database

SLOW = 0.100


async def accountant_headers(url: str) -> dict[str, str]:
    settings = make_settings(url)
    database = Database.from_settings(settings)
    async with database.sessionmaker() as session, session.begin():
        user = await create_user(session, Role.accountant)
    await database.engine.dispose()
    return bearer(settings, user, timedelta(hours=1))


async def steady_redemptions(
    client: httpx.AsyncClient, tokens: list[str], rate: float
) -> list[float]:
    """Each redemption starts at its own scheduled instant; returns their latencies."""
    today, started = paris_today().isoformat(), time.perf_counter()

    async def one(n: int, token: str) -> float:
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        began = time.perf_counter()
        body = {"token": token, "coaching_date": today, "invoice_reference": "BENCH"}
        response = await client.post("/api/v1/redemptions", json=body)
        assert response.status_code == 201, response.text
        return time.perf_counter() - began

    return list(await asyncio.gather(*(one(n, t) for n, t in enumerate(tokens))))


async def export_repeatedly(base_url: str, headers: dict[str, str]) -> int:
    """Download the reconciliation with curl, over and over until cancelled: the
    accountant's download is not measured, and must not slow the measuring client down.
    Returns the number of complete downloads."""
    since, until = paris_today() - timedelta(days=1), paris_today()
    url = f"{base_url}/api/v1/exports/reconciliation.csv?from={since}&to={until}"
    authorization = f"Authorization: {headers['Authorization']}"
    done = 0
    try:
        while True:
            curl = await asyncio.create_subprocess_exec(
                "curl", "-sSf", "-o", "/dev/null", "-H", authorization, url
            )
            assert await curl.wait() == 0, "the export failed"
            done += 1
    except asyncio.CancelledError:
        curl.terminate()
        await curl.wait()
        return done


def summary(latencies: list[float]) -> tuple[float, float, float]:
    """(share slower than 100 ms, p50 ms, p99 ms)."""
    cuts = statistics.quantiles(latencies, n=100)
    slow = sum(latency > SLOW for latency in latencies) / len(latencies)
    return slow, cuts[49] * 1000, cuts[98] * 1000


async def main(rate: float, seconds: float, cheques: int) -> None:
    per_phase, warm_up = int(rate * seconds), int(rate * 2)
    async with fresh_database_url("postgresql", Path(".")) as url:
        expert_headers, tokens = await seed_redemption_load(url, warm_up + 2 * per_phase)
        database = Database.from_settings(make_settings(url))
        await seed_cheques(database, cheques)
        await database.engine.dispose()
        accountant = await accountant_headers(url)
        async with serve(url, workers=2) as server:
            async with httpx.AsyncClient(
                base_url=server.url, headers=expert_headers, timeout=60
            ) as client:
                await steady_redemptions(client, tokens[:warm_up], rate)
                alone = await steady_redemptions(client, tokens[warm_up:][:per_phase], rate)
                export = asyncio.create_task(export_repeatedly(server.url, accountant))
                during = await steady_redemptions(client, tokens[warm_up + per_phase :], rate)
                export.cancel()
                exported = await export
    print(f"{per_phase} redemptions at {rate:g}/s in each phase; {cheques:,} cheques exported")
    print(f"{'':28}{'> 100 ms':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for label, latencies in (("alone (baseline)", alone), ("while exporting", during)):
        slow, p50, p99 = summary(latencies)
        print(f"{label:28}{slow:10.1%}{p50:10.1f}{p99:10.1f}")
    print(f"complete exports meanwhile: {exported}")
    print(f"ratio p99 while exporting / alone: {summary(during)[2] / summary(alone)[2]:.2f}×")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=25)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--cheques", type=int, default=100_000)
    arguments = parser.parse_args()
    os.environ.setdefault(
        "MCD_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    asyncio.run(main(arguments.rate, arguments.seconds, arguments.cheques))
