"""Redemption throughput and latency on PostgreSQL, through `voucher-service serve
--workers 2`, against a baseline measured in the same run.

    .venv/bin/python bench/redemption_throughput.py [--requests 2000] [--clients 32]

The baseline is `GET /api/v1/auth/me`: a single primary-key read through the same stack
(middleware, bearer token, one session, one transaction). The measured operation is
`POST /api/v1/redemptions` of distinct cheques by the same number of concurrent clients.
Prints requests per second, p50 and p99 for both, and the ratios.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from voucher_service.core.clock import paris_today

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.databases import fresh_database_url
from tests.fixtures.servers import serve
from tests.fixtures.vouchers import seed_redemption_load

Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def measure(
    client: httpx.AsyncClient, calls: list[Call], clients: int
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[Call] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            call = queue.get_nowait()
            started = time.perf_counter()
            response = await call(client)
            latencies.append(time.perf_counter() - started)
            assert response.status_code in (200, 201), response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return len(calls) / (time.perf_counter() - started), latencies


def redeem_call(token: str, today: str) -> Call:
    def call(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
        body = {"token": token, "coaching_date": today, "invoice_reference": "BENCH"}
        return client.post("/api/v1/redemptions", json=body)

    return call


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1] * 1000


async def main(requests: int, clients: int) -> None:
    async with fresh_database_url("postgresql", Path(".")) as url:
        headers, tokens = await seed_redemption_load(url, requests)
        today = paris_today().isoformat()
        async with serve(url, workers=2, MCD_REDEMPTION_MAX_FAILURES="1000000") as server:
            limits = httpx.Limits(max_connections=clients)
            async with httpx.AsyncClient(
                base_url=server.url, headers=headers, limits=limits, timeout=30
            ) as client:
                await measure(client, [lambda c: c.get("/api/v1/auth/me")] * 200, clients)
                base_rps, base = await measure(
                    client, [lambda c: c.get("/api/v1/auth/me")] * requests, clients
                )
                redeem_rps, redeem = await measure(
                    client, [redeem_call(token, today) for token in tokens], clients
                )
    print(f"{'':24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(
        f"{'baseline (PK read)':24}{base_rps:10.0f}{percentile(base, 0.5):10.1f}"
        f"{percentile(base, 0.99):10.1f}"
    )
    print(
        f"{'redemption':24}{redeem_rps:10.0f}{percentile(redeem, 0.5):10.1f}"
        f"{percentile(redeem, 0.99):10.1f}"
    )
    print(
        f"ratio redemption/baseline: {redeem_rps / base_rps:.2f}× throughput, "
        f"p99 {percentile(redeem, 0.99) / percentile(base, 0.99):.2f}×"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    arguments = parser.parse_args()
    os.environ.setdefault(
        "MCD_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    asyncio.run(main(arguments.requests, arguments.clients))
