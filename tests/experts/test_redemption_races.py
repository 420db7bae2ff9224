"""Redemption under contention, through a real server and real connections: a cheque is
redeemed at most once, never overdrawn, whatever the concurrency or the network does."""

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from experts.models import Redemption
from tests.fixtures.factories import bearer, create_expert, create_programme
from tests.fixtures.servers import LiveServer, serve
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.auth.models import User
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.vouchers.models import Voucher
from voucher_service.vouchers.service import IssuedVoucher

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
async def server(database: Database) -> AsyncIterator[LiveServer]:
    url = database.engine.url.render_as_string(hide_password=False)
    async with serve(url, MCD_REDEMPTION_MAX_FAILURES="1000000") as live:
        yield live


async def seed(
    database: Database, settings: Settings, cheques: int
) -> tuple[dict[str, str], list[IssuedVoucher]]:
    async with database.sessionmaker() as session, session.begin():
        programme = await create_programme(session)
        expert = await create_expert(session)
        user = await session.get(User, expert.user_id)
        assert user is not None
        issued = [
            await create_voucher(session, settings, programme=programme) for _ in range(cheques)
        ]
    return bearer(settings, user), issued


def redemption(token: str, **extra: object) -> dict[str, object]:
    return {
        "token": token,
        "coaching_date": date.today().isoformat(),
        "invoice_reference": "FAC-RACE",
        **extra,
    }


async def fire(
    server: LiveServer, headers: dict[str, str], bodies: list[dict[str, object]]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *(client.post("/api/v1/redemptions", json=b, headers=headers) for b in bodies)
        )


async def stored(database: Database, voucher_id: int) -> tuple[int, int, int]:
    """(redemptions, redeemed cents, balance) as the database has them."""
    async with database.sessionmaker() as session:
        count, total = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(Redemption.amount_cents), 0)).where(
                    col(Redemption.voucher_id) == voucher_id, col(Redemption.status) == "active"
                )
            )
        ).one()
        voucher = await session.get(Voucher, voucher_id)
        assert voucher is not None
        return count, total, voucher.balance_cents


def outcomes(responses: list[httpx.Response]) -> Counter[str]:
    return Counter("ok" if r.status_code == 201 else r.json()["code"] for r in responses)


class TestRaces:
    async def test_fifty_connections_one_cheque(
        self, server: LiveServer, database: Database, settings: Settings
    ) -> None:
        headers, [issued] = await seed(database, settings, 1)
        responses = await fire(server, headers, [redemption(issued.token)] * 50)
        assert outcomes(responses) == {"ok": 1, "already_redeemed": 49}
        assert issued.voucher.id is not None
        assert await stored(database, issued.voucher.id) == (1, issued.voucher.amount_cents, 0)

    async def test_ten_cheques_twenty_attempts_each(
        self, server: LiveServer, database: Database, settings: Settings
    ) -> None:
        headers, issued = await seed(database, settings, 10)
        bodies = [redemption(v.token) for v in issued for _ in range(20)]
        responses = await fire(server, headers, bodies)
        assert outcomes(responses) == {"ok": 10, "already_redeemed": 190}
        for voucher in issued:
            assert voucher.voucher.id is not None
            assert (await stored(database, voucher.voucher.id))[:1] == (1,)

    async def test_partial_amounts_never_overdraw(
        self, server: LiveServer, database: Database, settings: Settings
    ) -> None:
        headers, [issued] = await seed(database, settings, 1)
        part = issued.voucher.amount_cents // 4
        responses = await fire(server, headers, [redemption(issued.token, amount_cents=part)] * 30)
        counted = outcomes(responses)
        assert counted["ok"] == 4 and sum(counted.values()) == 30
        assert set(counted) <= {"ok", "insufficient_balance", "already_redeemed"}
        assert issued.voucher.id is not None
        assert await stored(database, issued.voucher.id) == (4, 4 * part, 0)


class TestDroppedResponse:
    async def test_a_retry_after_a_dropped_response_replays(
        self, server: LiveServer, database: Database, settings: Settings
    ) -> None:
        headers, [issued] = await seed(database, settings, 1)
        key = uuid.uuid4().hex
        await send_and_hang_up(
            server, {**headers, "Idempotency-Key": key}, redemption(issued.token)
        )
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            retry = await client.post(
                "/api/v1/redemptions",
                json=redemption(issued.token),
                headers={**headers, "Idempotency-Key": key},
            )
            again = await client.post(
                "/api/v1/redemptions",
                json=redemption(issued.token),
                headers={**headers, "Idempotency-Key": key},
            )
        assert retry.status_code == 201, retry.text
        assert again.json() == retry.json()
        assert issued.voucher.id is not None
        assert await stored(database, issued.voucher.id) == (1, issued.voucher.amount_cents, 0)


async def send_and_hang_up(
    server: LiveServer, headers: dict[str, str], body: dict[str, object]
) -> None:
    """Send a whole request, then close the connection before the answer is read."""
    address = urlsplit(server.url)
    payload = json.dumps(body).encode()
    lines = [
        "POST /api/v1/redemptions HTTP/1.1",
        f"Host: {address.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write("\r\n".join(lines).encode() + payload)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    del reader
