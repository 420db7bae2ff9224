"""X-Forwarded-For is believed only from the proxies named in MCD_FORWARDED_ALLOW_IPS:
the address the login throttle counts is otherwise the peer's own, whatever a client
claims. Against a real `serve` process, since uvicorn decides it."""

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from tests.fixtures.servers import serve
from voucher_service.core.auth.models import LoginFailure
from voucher_service.core.db import Database

SPOOFED = "203.0.113.7"


async def counted_address(database: Database, trusted: str) -> str:
    """The address a failed login is counted under, sent with a forged X-Forwarded-For by
    a peer at 127.0.0.1, to a server that trusts ``trusted``."""
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.fr"
    url = database.engine.url.render_as_string(hide_password=False)
    async with serve(url, MCD_FORWARDED_ALLOW_IPS=trusted) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            refused = await client.post(
                "/api/v1/auth/token",
                data={"username": email, "password": "wrong password"},
                headers={"X-Forwarded-For": SPOOFED},
            )
    assert refused.status_code == 401, refused.text
    async with database.sessionmaker() as session:
        query = select(col(LoginFailure.address)).where(col(LoginFailure.email) == email)
        return str((await session.execute(query)).scalar_one())


@pytest.mark.parametrize(
    ("trusted", "counted"),
    [("", "127.0.0.1"), ("10.0.0.0/8", "127.0.0.1"), ("127.0.0.1", SPOOFED), ("*", SPOOFED)],
    ids=["none trusted", "another proxy", "this proxy", "every peer"],
)
async def test_forwarded_for_counts_only_from_a_trusted_proxy(
    database: Database, trusted: str, counted: str
) -> None:
    assert await counted_address(database, trusted) == counted
