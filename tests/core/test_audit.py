"""The audit trail holds exactly the events of the transactions that committed, and its hash
chain, sealed after the commit, detects edited, deleted and truncated rows."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.fixtures.cli import Result, run_cli
from tests.fixtures.databases import TEST_SECRET, make_settings
from tests.fixtures.servers import serve
from tests.fixtures.vouchers import seed_redemption_load
from voucher_service.core import audit, schema
from voucher_service.core.audit import AuditEvent
from voucher_service.core.clock import paris_today
from voucher_service.core.context import Actor, current_actor, request_id
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


# Tampering, as someone with write access to the database would do it: each stored column
# of each event edited in turn, events deleted, inserted and reordered. The chain must name
# the first event it can no longer vouch for, whichever column or position was touched.

EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
# The one column a change of which is not a change of the trail: the row's key in this
# database, which the chain neither orders by nor records.
NOT_RECORDED = {"id"}
CONTENT = "contenu modifié"
LINK = "lien rompu avec l'événement précédent"
MISSING = "événement manquant avant celui-ci"
TRUNCATED = "derniers événements supprimés"
APPENDED = "événement ajouté après la fin de la chaîne"


def flipped(digest: str) -> str:
    return ("1" if digest[0] == "0" else "0") + digest[1:]


# For each column, edits of the stored value that change what the row says.
EDITS: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {
    "seq": [("moved", lambda v: v + 1000)],
    "occurred_at": [("one-microsecond", lambda v: v + timedelta(microseconds=1))],
    "actor_id": [("other", lambda v: v + 1), ("null", lambda v: None)],
    "actor_role": [("other", lambda v: "admin")],
    "actor_label": [("trailing-space", lambda v: v + " ")],
    "action": [("other", lambda v: "payout_batch.cancelled")],
    "entity_type": [("other", lambda v: "programme")],
    "entity_id": [("other", lambda v: str(int(v) + 1)), ("null", lambda v: None)],
    "before": [("value", lambda v: {**v, "status": "exported"}), ("null", lambda v: None)],
    "after": [
        ("one-cent", lambda v: {**v, "total_cents": v["total_cents"] + 1}),
        ("key-added", lambda v: {**v, "note": ""}),
        ("null", lambda v: None),
    ],
    "request_id": [("other", lambda v: "req-99"), ("null", lambda v: None)],
    "prev_hash": [("one-digit", flipped)],
    "hash": [("one-digit", flipped)],
}
POSITIONS = {"first": 0, "middle": 1, "last": 2}


@dataclass(frozen=True)
class Sealed:
    """Where an event was sealed, kept apart from the rows the tests then tamper with."""

    id: int
    seq: int
    hash: str


async def record_chain(session: AsyncSession) -> list[Sealed]:
    """Three sealed events, the last of the chain, with a value in every column."""
    events = []
    for n in (1, 2, 3):
        actor = current_actor.set(Actor(40 + n, "accountant", f"compta{n}@maregionsud.fr"))
        rid = request_id.set(f"req-{n}")
        try:
            events.append(
                audit.record(
                    session,
                    "payout_batch.exported",
                    "payout_batch",
                    100 + n,
                    before={"status": "draft", "transfers": n},
                    after={"status": "exported", "total_cents": 200_000 + n},
                )
            )
        finally:
            current_actor.reset(actor)
            request_id.reset(rid)
    await session.commit()
    await seal_everything(session)
    return [Sealed(e.id, e.seq, e.hash) for e in events]  # type: ignore[arg-type]


async def stored(session: AsyncSession, event_id: int) -> dict[str, Any]:
    return dict(
        (await session.execute(select(EVENTS).where(EVENTS.c.id == event_id))).one()._mapping
    )


async def edit(session: AsyncSession, event_id: int, column: str, value: object) -> None:
    await session.execute(update(EVENTS).where(EVENTS.c.id == event_id).values({column: value}))


async def delete_event(session: AsyncSession, event: Sealed) -> None:
    await session.execute(delete(EVENTS).where(EVENTS.c.id == event.id))


async def swap(session: AsyncSession, first: Sealed, second: Sealed) -> None:
    """Exchange the places of two events, each keeping its own hashes."""
    await edit(session, first.id, "seq", -first.seq)
    await edit(session, second.id, "seq", first.seq)
    await edit(session, first.id, "seq", second.seq)


async def forge_after(session: AsyncSession, event: Sealed, *, move_head: bool) -> int:
    """A made-up event with a valid digest and link, sealed right after ``event``: the later
    ones (and the head, if ``move_head``) shifted one place to make room. Its row id."""
    later = select(EVENTS.c.id, EVENTS.c.seq).where(EVENTS.c.seq > event.seq)
    for row_id, seq in sorted((await session.execute(later)).all(), key=lambda r: -r.seq):
        await edit(session, row_id, "seq", seq + 1)
    values = await stored(session, event.id)
    forged = AuditEvent(**{**values, "id": None, "entity_id": "999"})
    forged.seq, forged.prev_hash = event.seq + 1, event.hash
    forged.hash = audit._digest(forged)
    session.add(forged)
    if move_head:
        await session.execute(update(audit.AuditHead).values(seq=audit.AuditHead.seq + 1))
    await session.flush()
    assert forged.id is not None
    return forged.id


class TestTamperingIsDetected:
    def test_every_stored_column_is_edited_by_these_tests(self) -> None:
        assert set(EDITS) | NOT_RECORDED == set(EVENTS.c.keys())

    @pytest.mark.parametrize("position", POSITIONS.values(), ids=POSITIONS.keys())
    @pytest.mark.parametrize(
        ("column", "change"),
        [pytest.param(c, f, id=f"{c}-{name}") for c, edits in EDITS.items() for name, f in edits],
    )
    async def test_an_edited_column_is_named(
        self, session: AsyncSession, column: str, change: Callable[[Any], Any], position: int
    ) -> None:
        events = await record_chain(session)
        target = events[position]
        old = (await stored(session, target.id))[column]
        assert change(old) != old
        await edit(session, target.id, column, change(old))
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        if column == "seq":  # the event left its place: missing there, or the tail cut off
            after = events[position + 1].id if position < 2 else None
            reason = MISSING if position < 2 else TRUNCATED
            assert broken == audit.ChainBreak(target.seq, after, reason)
        else:
            reason = LINK if column == "prev_hash" else CONTENT
            assert broken == audit.ChainBreak(target.seq, target.id, reason)

    async def test_the_chain_is_intact_before_any_edit(self, session: AsyncSession) -> None:
        events = await record_chain(session)
        count, broken = await audit.verify_chain(session)
        assert broken is None and count == events[-1].seq

    @pytest.mark.parametrize("position", POSITIONS.values(), ids=POSITIONS.keys())
    async def test_a_deleted_event_is_named(self, session: AsyncSession, position: int) -> None:
        events = await record_chain(session)
        await delete_event(session, events[position])
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        if position < 2:
            expected = audit.ChainBreak(events[position].seq, events[position + 1].id, MISSING)
        else:
            expected = audit.ChainBreak(events[2].seq, None, TRUNCATED)
        assert broken == expected

    @pytest.mark.parametrize("position", [0, 1], ids=["first-two", "last-two"])
    async def test_reordered_events_are_named(self, session: AsyncSession, position: int) -> None:
        events = await record_chain(session)
        first, second = events[position], events[position + 1]
        await swap(session, first, second)
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken == audit.ChainBreak(first.seq, second.id, LINK)

    @pytest.mark.parametrize("position", [0, 1], ids=["after-first", "after-middle"])
    async def test_an_event_inserted_inside_the_chain_is_found(
        self, session: AsyncSession, position: int
    ) -> None:
        events = await record_chain(session)
        await forge_after(session, events[position], move_head=True)
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        shifted = events[position + 1]
        assert broken == audit.ChainBreak(shifted.seq + 1, shifted.id, LINK)

    @pytest.mark.parametrize("position", [0, 1], ids=["first", "middle"])
    async def test_a_rewritten_event_relinked_to_the_next_is_still_found(
        self, session: AsyncSession, position: int
    ) -> None:
        """The forger edits an event, gives it the hash it now has and points the next event
        at that hash: the next event's own hash covered the old link, so it is named."""
        events = await record_chain(session)
        target, following = events[position], events[position + 1]
        values = {**(await stored(session, target.id)), "actor_label": "quelqu'un d'autre"}
        rehashed = audit._digest(AuditEvent(**values))
        await edit(session, target.id, "actor_label", values["actor_label"])
        await edit(session, target.id, "hash", rehashed)
        await edit(session, following.id, "prev_hash", rehashed)
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken == audit.ChainBreak(following.seq, following.id, CONTENT)

    async def test_an_event_appended_behind_the_head_is_found(self, session: AsyncSession) -> None:
        events = await record_chain(session)
        forged = await forge_after(session, events[2], move_head=False)
        session.expire_all()
        count, broken = await audit.verify_chain(session)
        assert broken == audit.ChainBreak(events[2].seq + 1, forged, APPENDED)
        assert count == events[2].seq


async def audit_verify(url: str) -> Result:
    return await run_cli(
        "audit", "verify", env={"MCD_DATABASE_URL": url, "MCD_SECRET_KEY": TEST_SECRET}
    )


async def test_the_operators_audit_verify_names_each_kind_of_tampering(
    empty_database_url: str,
) -> None:
    """`voucher-service audit verify` on a database tampered with, then put back each time:
    exit 1 naming the event and the reason, exit 0 once restored."""
    database = Database.from_settings(make_settings(empty_database_url))
    await schema.upgrade(database.engine)
    async with database.sessionmaker(expire_on_commit=False) as session:
        events = await record_chain(session)
        await session.commit()  # verify seals nothing itself
        snapshot = (await session.execute(select(EVENTS))).mappings().all()
        head = (await session.execute(select(audit.AuditHead))).scalar_one().model_dump()

    async def tampered(tamper: Callable[[AsyncSession], Awaitable[object]]) -> Result:
        async with database.sessionmaker() as session, session.begin():
            await tamper(session)
        result = await audit_verify(empty_database_url)
        async with database.sessionmaker() as session, session.begin():
            await session.execute(delete(EVENTS))
            await session.execute(insert(EVENTS), [dict(row) for row in snapshot])
            await session.execute(update(audit.AuditHead).values(**head))
        return result

    try:
        intact = await audit_verify(empty_database_url)
        assert intact.code == 0, intact.stderr
        assert "Audit chain intact: 3 events verified" in intact.stderr
        first, middle, last = events
        kinds = {
            f"event #{middle.seq} (row id {middle.id}): “{CONTENT}”": lambda s: edit(
                s, middle.id, "entity_id", "666"
            ),
            f"event #{middle.seq} (row id {last.id}): “{MISSING}”": lambda s: delete_event(
                s, middle
            ),
            f"event #{first.seq} (row id {middle.id}): “{LINK}”": lambda s: swap(s, first, middle),
            f"event #{last.seq + 1} (row id {last.id}): “{LINK}”": lambda s: forge_after(
                s, middle, move_head=True
            ),
        }
        for where, tamper in kinds.items():
            result = await tampered(tamper)
            assert result.code == 1, (where, result.stdout, result.stderr)
            assert f"Audit chain broken at {where}." in " ".join(result.stderr.split())
        again = await audit_verify(empty_database_url)
        assert again.code == 0 and "Audit chain intact: 3 events verified" in again.stderr
    finally:
        await database.engine.dispose()


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
        assert event.seq is not None and event.hash is not None
        assert await audit.verify_chain(session) == (event.seq, None)
        assert await audit.seal(session, wait=True) == 0

    async def test_a_missing_head_is_a_break(self, session: AsyncSession) -> None:
        await session.execute(delete(audit.AuditHead))
        audit.record(session, "cheque.issued", "voucher", 1)
        assert await audit.seal(session, wait=True) == 0  # nothing chained without a head
        assert await audit.verify_chain(session) == (
            0,
            audit.ChainBreak(1, None, "tête de la chaîne introuvable"),
        )

    async def test_a_seal_chains_at_most_its_limit_oldest_first(
        self, session: AsyncSession
    ) -> None:
        await seal_everything(session)
        events = [audit.record(session, "cheque.issued", "voucher", n) for n in (1, 2, 3)]
        await session.commit()
        assert await audit.seal(session, limit=2, wait=True) == 2
        assert [e.seq is not None for e in events] == [True, True, False]
        assert await audit.seal(session, limit=2, wait=True) == 1
        assert events[1].seq == events[0].seq + 1 == events[2].seq - 1  # type: ignore[operator]

    async def test_what_is_recorded_is_stored_as_json(self, session: AsyncSession) -> None:
        event = audit.record(
            session,
            "voucher.expired",
            "voucher",
            after={"on": date(2027, 3, 1), "rate": Decimal("0.5"), "codes": ("A", "B")},
        )
        await session.commit()
        await session.refresh(event)
        assert event.entity_id is None
        assert event.after == {"on": "2027-03-01", "rate": "0.5", "codes": ["A", "B"]}

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


async def test_a_checkpoint_waits_for_a_sealer_at_work_instead_of_skipping_its_events(
    empty_database_url: str,
) -> None:
    """What `audit checkpoint` does first: seal with wait=True, so that events another
    sealer is chaining are signed too, not left out of the checkpoint."""
    database = Database.from_settings(make_settings(empty_database_url))
    await schema.upgrade(database.engine)
    try:
        async with database.sessionmaker() as session, session.begin():
            audit.record(session, "first", "test")
        async with database.sessionmaker() as session, session.begin():
            audit.record(session, "second", "test")
            await session.flush()
            busy = await audit.seal(session, limit=1)
            assert busy == 1
            waiting = asyncio.create_task(audit.seal_committed(database, wait=True))
            await asyncio.sleep(0.5)
            assert not waiting.done()
        assert await asyncio.wait_for(waiting, 10) == 1
        async with database.sessionmaker() as session:
            assert await audit.verify_chain(session) == (2, None)
    finally:
        await database.engine.dispose()


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


async def test_a_server_sealer_seals_what_commits_and_outlives_a_broken_database(
    empty_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database.from_settings(make_settings(empty_database_url))
    await schema.upgrade(database.engine)
    sealer = asyncio.create_task(audit.keep_sealing(database, 0.05))
    gone = Database.from_settings(make_settings(f"sqlite+aiosqlite:///{tmp_path}/unmigrated.db"))
    lost = asyncio.create_task(audit.keep_sealing(gone, 0.05))
    try:
        async with database.sessionmaker() as session, session.begin():
            audit.record(session, "cheque.issued", "voucher", 1)
        for _ in range(100):
            if (await unsealed_and_total(database)) == (0, 1):
                break
            await asyncio.sleep(0.05)
        assert await unsealed_and_total(database) == (0, 1)
        for _ in range(100):  # it keeps trying: one warning per round
            if len([r for r in caplog.records if r.name == "voucher_service.audit"]) >= 2:
                break
            await asyncio.sleep(0.05)
        assert not lost.done() and not sealer.done()
    finally:
        sealer.cancel()
        lost.cancel()
        await asyncio.gather(sealer, lost, return_exceptions=True)
        await database.engine.dispose()
        await gone.engine.dispose()
    warnings = [r for r in caplog.records if r.name == "voucher_service.audit"]
    assert len(warnings) >= 2 and all(r.levelname == "WARNING" for r in warnings)
    message = warnings[0].getMessage()  # with the database's own words
    assert message.startswith("audit events not sealed yet: (sqlite3.OperationalError) ")
    assert "no such table: audit_head" in message


# Two events as a release sealed them, hashes included: a chain already in a database
# must still verify after an upgrade, so the digest's fields, names and JSON form stay.
SEALED_BEFORE = [
    {
        "seq": 1,
        "prev_hash": audit.GENESIS,
        "occurred_at": datetime(2026, 11, 30, 8, 15, 0, 123456, tzinfo=UTC),
        "actor_id": 7,
        "actor_role": "accountant",
        "actor_label": "compta@maregionsud.fr",
        "action": "payout_batch.exported",
        "entity_type": "payout_batch",
        "entity_id": "12",
        "before": {"status": "draft"},
        "after": {"status": "exported", "message_id": "MCD-BATCH-000012", "note": "réglé"},
        "request_id": "req-1",
        "hash": "51ecc23cf9b52d2a1a1cb2b1c3b456e5240b2a9ea3b1ea743aa3a82fd5ea1dca",
    },
    {
        "seq": 2,
        "prev_hash": "51ecc23cf9b52d2a1a1cb2b1c3b456e5240b2a9ea3b1ea743aa3a82fd5ea1dca",
        "occurred_at": datetime(2026, 11, 30, 8, 16, tzinfo=UTC),
        "actor_id": None,
        "actor_role": "system",
        "actor_label": "system",
        "action": "voucher.expired",
        "entity_type": "voucher",
        "entity_id": None,
        "before": None,
        "after": None,
        "request_id": None,
        "hash": "58c112e72cf3aab0360b4591b6fd8f05592f6725c77f746ce459f45a0cc5fda5",
    },
]


async def test_a_chain_sealed_by_an_earlier_release_still_verifies(
    empty_database_url: str,
) -> None:
    database = Database.from_settings(make_settings(empty_database_url))
    await schema.upgrade(database.engine)
    try:
        async with database.sessionmaker() as session, session.begin():
            await session.execute(insert(EVENTS), SEALED_BEFORE)
            last = SEALED_BEFORE[-1]["hash"]
            await session.execute(update(audit.AuditHead).values(seq=2, last_hash=last))
        async with database.sessionmaker() as session:
            assert await audit.verify_chain(session) == (2, None)
    finally:
        await database.engine.dispose()
