"""The audit trail holds exactly the events of the transactions that committed, and its hash
chain, sealed after the commit, detects edited, deleted and truncated rows."""

import asyncio
from typing import cast

import httpx
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.fixtures.databases import make_settings
from tests.fixtures.servers import serve
from tests.fixtures.vouchers import seed_redemption_load
from voucher_service.core import audit, schema
from voucher_service.core.audit import AuditEvent
from voucher_service.core.clock import paris_today
from voucher_service.core.db import Database


async def seal_everything(session: AsyncSession) -> None:
    """Seal in this session, as long as batches come back full (other tests' events too)."""
    while await audit.seal(session, wait=True) == audit.SEAL_BATCH:
        pass


async def record_three(session: AsyncSession) -> list[AuditEvent]:
    events = [
        audit.record(session, "cheque.issued", "voucher", n, after={"amount_cents": 200000})
        for n in (1, 2, 3)
    ]
    await session.commit()
    await seal_everything(session)
    return events


async def rows_from(session: AsyncSession, first: AuditEvent) -> list[AuditEvent]:
    query = select(AuditEvent).where(col(AuditEvent.seq) >= first.seq).order_by(col(AuditEvent.seq))
    return list((await session.execute(query)).scalars())


class TestVerifyChain:
    async def test_intact_chain(self, session: AsyncSession) -> None:
        events = await record_three(session)
        assert events[1].prev_hash == events[0].hash
        count, broken = await audit.verify_chain(session)
        assert broken is None and count >= 3

    async def test_edited_row_is_named(self, session: AsyncSession) -> None:
        events = await record_three(session)
        await session.execute(
            update(AuditEvent)
            .where(col(AuditEvent.id) == events[1].id)
            .values(after={"amount_cents": 1})
        )
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken is not None
        assert (broken.seq, broken.event_id) == (events[1].seq, events[1].id)

    async def test_deleted_row_is_found(self, session: AsyncSession) -> None:
        events = await record_three(session)
        await session.execute(delete(AuditEvent).where(col(AuditEvent.id) == events[1].id))
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken is not None and broken.event_id == events[2].id

    async def test_deleted_last_row_is_found(self, session: AsyncSession) -> None:
        events = await record_three(session)
        await session.execute(delete(AuditEvent).where(col(AuditEvent.id) == events[2].id))
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken is not None and broken.seq == events[2].seq

    async def test_rewritten_hashes_still_break_the_link(self, session: AsyncSession) -> None:
        events = await record_three(session)
        forged = events[1].model_copy(update={"actor_label": "someone else"})
        await session.execute(
            update(AuditEvent)
            .where(col(AuditEvent.id) == events[1].id)
            .values(actor_label="someone else", hash=audit._digest(forged))
        )
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken is not None and broken.event_id == events[2].id

    async def test_records_who_and_in_which_request(self, session: AsyncSession) -> None:
        from voucher_service.core.context import Actor, current_actor, request_id

        actor_token = current_actor.set(Actor(7, "admin", "admin@example.fr"))
        rid_token = request_id.set("req-42")
        try:
            event = audit.record(
                session,
                "application.approved",
                "application",
                9,
                before={"status": "eligible"},
                after={"status": "approved"},
            )
        finally:
            current_actor.reset(actor_token)
            request_id.reset(rid_token)
        await session.commit()
        await seal_everything(session)
        stored = (await rows_from(session, event))[0]
        assert (stored.actor_id, stored.actor_role, stored.request_id) == (7, "admin", "req-42")
        assert stored.before == {"status": "eligible"} and stored.after == {"status": "approved"}


async def count_events(session: AsyncSession, action: str) -> int:
    query = select(func.count()).select_from(AuditEvent).where(col(AuditEvent.action) == action)
    return (await session.execute(query)).scalar_one()


class TestRecordedWithItsTransaction:
    async def test_a_rolled_back_savepoint_drops_its_events_only(
        self, session: AsyncSession
    ) -> None:
        audit.record(session, "kept.before", "test")
        savepoint = await session.begin_nested()
        audit.record(session, "dropped", "test")
        await savepoint.rollback()
        audit.record(session, "kept.after", "test")
        await session.commit()
        counts = [await count_events(session, a) for a in ("kept.before", "dropped", "kept.after")]
        assert counts == [1, 0, 1]
        await seal_everything(session)
        assert (await audit.verify_chain(session))[1] is None

    async def test_a_rolled_back_transaction_leaves_nothing(self, session: AsyncSession) -> None:
        audit.record(session, "never.written", "test")
        await session.rollback()
        await session.commit()
        assert await count_events(session, "never.written") == 0

    async def test_concurrent_writers_keep_one_unbroken_chain(
        self, empty_database_url: str
    ) -> None:
        database = Database.from_settings(make_settings(empty_database_url))
        await schema.upgrade(database.engine)

        async def write(n: int) -> None:
            async with database.sessionmaker() as session, session.begin():
                audit.record(session, "concurrent.first", "test", n)
                await asyncio.sleep(0)
                audit.record(session, "concurrent.second", "test", n)
                if n % 5 == 0:
                    raise LookupError("rolled back")

        results = await asyncio.gather(*(write(n) for n in range(30)), return_exceptions=True)
        assert sum(isinstance(r, LookupError) for r in results) == 6
        assert not [r for r in results if r is not None and not isinstance(r, LookupError)]
        assert await audit.seal_committed(database) == 2 * 24
        async with database.sessionmaker() as session:
            count, broken = await audit.verify_chain(session)
        await database.engine.dispose()
        assert broken is None and count == 2 * 24


class TestSealing:
    async def test_events_wait_unsealed_until_the_sealer_chains_them(
        self, session: AsyncSession
    ) -> None:
        event = audit.record(session, "cheque.issued", "voucher", 1)
        await session.commit()
        assert (event.seq, event.hash) == (None, None)
        await seal_everything(session)
        assert event.seq is not None and event.hash == audit._digest(event)
        assert await audit.seal(session, wait=True) == 0

    async def test_a_missing_head_is_a_break(self, session: AsyncSession) -> None:
        await session.execute(delete(audit.AuditHead))
        _, broken = await audit.verify_chain(session)
        assert broken is not None and broken.reason == "tête de la chaîne introuvable"

    async def test_large_backlogs_are_sealed_in_batches(self, empty_database_url: str) -> None:
        database = Database.from_settings(make_settings(empty_database_url))
        await schema.upgrade(database.engine)
        async with database.sessionmaker() as session, session.begin():
            for n in range(audit.SEAL_BATCH * 2 + 7):
                audit.record(session, "backlog", "test", n)
        assert await audit.seal_committed(database) == audit.SEAL_BATCH * 2 + 7
        async with database.sessionmaker() as session:
            count, broken = await audit.verify_chain(session)
            query = select(col(AuditEvent.entity_id)).order_by(col(AuditEvent.seq))
            # Every event here was recorded with an entity id.
            order = [int(cast(str, n)) for n in (await session.execute(query)).scalars()]
        await database.engine.dispose()
        assert broken is None and count == audit.SEAL_BATCH * 2 + 7
        assert order == sorted(order)

    async def test_a_second_sealer_moves_on_instead_of_forking_the_chain(
        self, empty_database_url: str
    ) -> None:
        database = Database.from_settings(make_settings(empty_database_url))
        await schema.upgrade(database.engine)
        async with database.sessionmaker() as session, session.begin():
            audit.record(session, "first", "test")
        async with database.sessionmaker() as first, first.begin():
            assert await audit.seal(first) == 1
            if database.engine.dialect.name == "postgresql":  # SQLite has one writer anyway
                assert await asyncio.wait_for(audit.seal_committed(database), 5) == 0
        async with database.sessionmaker() as session:
            count, broken = await audit.verify_chain(session)
        await database.engine.dispose()
        assert broken is None and count == 1


async def unsealed_and_total(database: Database) -> tuple[int, int]:
    async with database.sessionmaker() as session:
        unsealed = select(func.count()).where(col(AuditEvent.seq).is_(None))
        total = select(func.count()).select_from(AuditEvent)
        return (await session.scalar(unsealed)) or 0, (await session.scalar(total)) or 0


async def test_a_running_server_seals_what_commits(empty_database_url: str) -> None:
    headers, tokens = await seed_redemption_load(empty_database_url, 2)
    database = Database.from_settings(make_settings(empty_database_url))
    assert (await unsealed_and_total(database))[0] > 0  # the seeded cheques' events
    async with serve(empty_database_url, MCD_AUDIT_SEAL_SECONDS="0.2") as server:
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
            body = {
                "token": tokens[0],
                "coaching_date": str(paris_today()),
                "invoice_reference": "F-1",
            }
            assert (await client.post("/api/v1/redemptions", json=body)).status_code == 201
        for _ in range(100):
            unsealed, total = await unsealed_and_total(database)
            if unsealed == 0:
                break
            await asyncio.sleep(0.1)
    async with database.sessionmaker() as session:
        redeemed = await count_events(session, "redemption.created")
        count, broken = await audit.verify_chain(session)
    await database.engine.dispose()
    assert unsealed == 0 and redeemed == 1
    assert broken is None and count == total
