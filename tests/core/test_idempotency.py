"""Idempotency keys replay the first answer, refuse a reused key, and hold under races."""

import asyncio
import uuid

import pytest
from sqlalchemy import text
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
    # PostgreSQL only: SQLite cannot show a connection waiting on its write lock.
    @pytest.mark.parametrize("database", ["postgresql"], indirect=True)
    async def test_a_retry_waits_for_the_first_and_replays_it(self, database: Database) -> None:
        """PostgreSQL: the retry is seen blocked behind the first request's transaction,
        and answers only once the first has committed, with the first's answer."""
        key, owner = uuid.uuid4().hex, f"user:{uuid.uuid4().hex[:8]}"
        retry_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def retry() -> StoredResponse | None:
            async with database.sessionmaker() as session, session.begin():
                retry_pid.set_result(await backend_pid(session))
                return await idempotency.claim(session, owner, key, print_of(BODY))

        async with database.sessionmaker() as first:
            assert await idempotency.claim(first, owner, key, print_of(BODY)) is None
            first_pid = await backend_pid(first)
            waiting = asyncio.create_task(retry())
            await wait_until_blocked(database, await retry_pid, first_pid, waiting)
            await idempotency.complete(first, owner, key, 201, {"id": 77})
            assert not waiting.done()
            await first.commit()
        assert await waiting == StoredResponse(201, {"id": 77})


async def backend_pid(session: AsyncSession) -> int:
    return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def wait_until_blocked(
    database: Database, pid: int, blocker: int, task: "asyncio.Task[object]"
) -> None:
    """Until PostgreSQL reports backend `pid` waiting on a lock held by `blocker`."""
    query = text("SELECT :blocker = ANY(pg_blocking_pids(:pid))")
    async with asyncio.timeout(15), database.sessionmaker() as session:
        while not (await session.execute(query, {"pid": pid, "blocker": blocker})).scalar():
            assert not task.done(), f"the retry did not wait: {task.result()!r}"
            await session.rollback()
            await asyncio.sleep(0.01)
