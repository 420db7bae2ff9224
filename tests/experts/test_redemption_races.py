"""Redemption under contention, through a real server and real connections: a cheque is
redeemed at most once, never overdrawn, whatever the concurrency or the network does."""

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from experts.models import Redemption
from tests.fixtures.factories import bearer, create_expert, create_programme
from tests.fixtures.servers import LiveServer, serve
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import User
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.core.ledger import LedgerEntry
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
        "coaching_date": paris_today().isoformat(),
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


ROUNDS = 5


class TestDoubleUndo:
    async def test_two_undos_of_one_redemption_at_once_undo_it_once(
        self, two_workers: LiveServer, database: Database, settings: Settings
    ) -> None:
        """Five rounds, each on a redemption of its own: two undos sent at the same time
        on two connections to a two-process server; one undoes, the other is refused."""
        headers, issued = await seed(database, settings, ROUNDS)
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with httpx.AsyncClient(base_url=two_workers.url, limits=limits, timeout=60) as client:
            for cheque in issued:
                redeemed = await client.post(
                    "/api/v1/redemptions", json=redemption(cheque.token), headers=headers
                )
                assert redeemed.status_code == 201, redeemed.text
                redemption_id = redeemed.json()["id"]
                # Both connections open before the race, so that both undos leave at once.
                await asyncio.gather(*(client.get("/healthz") for _ in range(2)))
                url = f"/api/v1/redemptions/{redemption_id}/cancel"
                undos = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(2)))
                check_undone_once(undos)
                await check_booked_once(database, cheque, redemption_id)


def check_undone_once(undos: list[httpx.Response]) -> None:
    statuses = sorted(r.status_code for r in undos)
    assert statuses == [200, 409], [r.text for r in undos]
    [done, refused] = sorted(undos, key=lambda r: r.status_code)
    assert done.json()["status"] == "cancelled"
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "redemption_cancelled", refused.text
    assert refused.json()["title"] == "Cette opération a déjà été annulée"


async def check_booked_once(database: Database, cheque: IssuedVoucher, redemption_id: int) -> None:
    """The balance given back once, one reversal in the ledger, one audit event."""
    amount = cheque.voucher.amount_cents
    assert await stored(database, cheque.voucher.id) == (0, 0, amount)  # type: ignore[arg-type]
    source = f"redemption:{redemption_id}"
    query = select(LedgerEntry).where(col(LedgerEntry.source).startswith(source))
    async with database.sessionmaker() as session:
        entries = (await session.execute(query)).scalars().all()
        events = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                col(AuditEvent.action) == "redemption.cancelled",
                col(AuditEvent.entity_id) == str(redemption_id),
            )
        )
    [expense] = [e for e in entries if e.source == source]
    [reversal] = [e for e in entries if e.source != source]
    assert (reversal.reverses_id, reversal.amount_cents) == (expense.id, amount)
    assert (reversal.debit_account, reversal.credit_account) == (
        expense.credit_account,
        expense.debit_account,
    )
    assert events == 1
