"""Idempotency keys replay the first answer, refuse a reused key, and hold under races."""

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core import idempotency
from voucher_service.core.db import Database
from voucher_service.core.idempotency import IdempotencyKeyReused, StoredResponse

BODY = {"token": "MCD-7K3Q-9XJ2-H"}


def print_of(body: object) -> str:
    return idempotency.fingerprint("POST", "/api/v1/redemptions", body)


class TestClaim:
    async def test_first_claim_owns_then_replays(self, session: AsyncSession) -> None:
        assert await idempotency.claim(session, "user:1", "k1", print_of(BODY)) is None
        await idempotency.complete(session, "user:1", "k1", 201, {"id": 5})
        replay = await idempotency.claim(session, "user:1", "k1", print_of(BODY))
        assert replay == StoredResponse(201, {"id": 5})

    async def test_same_key_other_body_is_refused(self, session: AsyncSession) -> None:
        await idempotency.claim(session, "user:1", "k2", print_of(BODY))
        await idempotency.complete(session, "user:1", "k2", 201, {"id": 6})
        with pytest.raises(IdempotencyKeyReused):
            await idempotency.claim(session, "user:1", "k2", print_of({"token": "other"}))

    async def test_keys_belong_to_their_owner(self, session: AsyncSession) -> None:
        assert await idempotency.claim(session, "user:1", "k3", print_of(BODY)) is None
        assert await idempotency.claim(session, "user:2", "k3", print_of(BODY)) is None


class TestConcurrentRetry:
    async def test_a_retry_waits_for_the_first_and_replays_it(self, database: Database) -> None:
        key, owner = uuid.uuid4().hex, f"user:{uuid.uuid4().hex[:8]}"
        first_claimed = asyncio.Event()

        async def first() -> None:
            async with database.sessionmaker() as session, session.begin():
                assert await idempotency.claim(session, owner, key, print_of(BODY)) is None
                first_claimed.set()
                await asyncio.sleep(0.3)
                await idempotency.complete(session, owner, key, 201, {"id": 77})

        async def retry() -> StoredResponse | None:
            await first_claimed.wait()
            async with database.sessionmaker() as session, session.begin():
                return await idempotency.claim(session, owner, key, print_of(BODY))

        _, replay = await asyncio.gather(first(), retry())
        assert replay == StoredResponse(201, {"id": 77})
