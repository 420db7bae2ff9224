"""Applications per second with the company registry answering in 50 ms, through
`voucher-service serve` on PostgreSQL, against the rate the registry alone would allow if
its calls queued one after another (1 / 50 ms = 20 per second), measured in the same run.

    .venv/bin/python bench/eligibility_throughput.py [--applications 300] [--clients 32]

A ratio above 1 shows that registry calls overlap instead of queueing.
"""

import argparse
import asyncio
import os
import sys
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.applications import application_body
from tests.fixtures.databases import fresh_database_url, make_settings
from tests.fixtures.factories import create_programme
from tests.fixtures.registry import FakeRegistry, _handler, make_siren, make_siret
from tests.fixtures.servers import serve
from voucher_service.core import schema
from voucher_service.core.db import Database

LATENCY = 0.050


class SlowRegistry(FakeRegistry):
    def answer(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        time.sleep(LATENCY)
        return super().answer(query)


def start_registry() -> tuple[SlowRegistry, ThreadingHTTPServer]:
    registry = SlowRegistry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
    server.daemon_threads = True
    registry.url = f"http://127.0.0.1:{server.server_address[1]}"
    Thread(target=server.serve_forever, daemon=True).start()
    return registry, server


async def seed(url: str) -> int:
    database = Database.from_settings(make_settings(url))
    await schema.upgrade(database.engine)
    async with database.sessionmaker() as session, session.begin():
        programme = await create_programme(session)
    await database.engine.dispose()
    assert programme.id is not None
    return programme.id


async def submit_all(base: str, programme_id: int, count: int, clients: int) -> float:
    bodies = [
        application_body(make_siret(make_siren(10_000 + n)), programme_id=programme_id)
        for n in range(count)
    ]
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            response = await client.post("/api/v1/applications", json=queue.get_nowait())
            assert response.status_code == 201, response.text

    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=httpx.Limits(max_connections=clients)
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return count / (time.perf_counter() - started)


async def main(count: int, clients: int) -> None:
    registry, server = start_registry()
    try:
        async with fresh_database_url("postgresql", Path(".")) as url:
            programme_id = await seed(url)
            async with serve(url, workers=2, MCD_REGISTRY_URL=registry.url) as live:
                rate = await submit_all(live.url, programme_id, count, clients)
    finally:
        server.shutdown()
    queued_rate = 1 / LATENCY
    print(f"registry latency            {LATENCY * 1000:.0f} ms")
    print(f"applications decided        {rate:.1f} per second ({count}, {clients} clients)")
    print(f"if registry calls queued    {queued_rate:.1f} per second")
    print(f"ratio                       {rate / queued_rate:.2f}× (above 1: calls overlap)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=300)
    parser.add_argument("--clients", type=int, default=32)
    arguments = parser.parse_args()
    os.environ.setdefault(
        "MCD_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    asyncio.run(main(arguments.applications, arguments.clients))
