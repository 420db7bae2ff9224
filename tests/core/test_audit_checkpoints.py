"""Signed checkpoints make the audit trail tamper-evident against a database writer: an
auditor holding only the public key and the published checkpoints finds each rewrite that
the hash chain alone lets through, naming the first event concerned."""

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import payload, rendering
from notifications.models import Notification
from tests.fixtures.cli import Result, run_cli
from tests.fixtures.databases import TEST_SECRET, make_settings
from tests.fixtures.factories import bearer, create_user
from tests.fixtures.servers import serve
from tests.fixtures.vouchers import seed_redemption_load
from voucher_service.core import audit, audit_checkpoints, schema
from voucher_service.core.audit import AuditEvent, AuditHead
from voucher_service.core.audit_checkpoints import AuditCheckpoint, Checkpoint
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import utcnow
from voucher_service.core.db import Database

EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
AUDITOR_SECRET = "an-auditor-never-holds-the-service-secret-0123456789"
Tamper = Callable[[AsyncSession], Awaitable[object]]


async def record(database: Database, *entity_ids: int) -> None:
    async with database.sessionmaker() as session, session.begin():
        for n in entity_ids:
            audit.record(session, "payout_batch.exported", "payout_batch", n, after={"n": n})


async def service_cli(url: str, folder: Path, *args: str) -> Result:
    env = {"MCD_DATABASE_URL": url, "MCD_SECRET_KEY": TEST_SECRET}
    return await run_cli(*args, env={**env, "MCD_AUDIT_CHECKPOINT_DIR": str(folder)})


async def auditor_verify(url: str, folder: Path, public_key: Path) -> Result:
    """`audit verify` as an auditor runs it: another secret, the published key and files."""
    env = {"MCD_DATABASE_URL": url, "MCD_SECRET_KEY": AUDITOR_SECRET}
    args = ("--checkpoint", str(folder), "--public-key", str(public_key))
    return await run_cli("audit", "verify", *args, env=env)


async def sealed(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(EVENTS).where(EVENTS.c.seq.is_not(None)).order_by("seq"))
    return [dict(row) for row in rows.mappings()]


async def rewrite_from(session: AsyncSession, seq: int, **change: object) -> None:
    """Edit event ``seq`` and recompute its hash, every later one and the head: a chain
    that verifies on its own."""
    rows = await sealed(session)
    previous = rows[seq - 2]["hash"] if seq > 1 else audit.GENESIS
    for row in rows[seq - 1 :]:
        values = {**row, **(change if row["seq"] == seq else {}), "prev_hash": previous}
        values["hash"] = previous = audit._digest(AuditEvent(**values))
        await session.execute(update(EVENTS).where(EVENTS.c.id == row["id"]).values(values))
    await session.execute(update(AuditHead).values(last_hash=previous))


async def roll_head_back(session: AsyncSession, seq: int) -> None:
    rows = await sealed(session)
    await session.execute(update(AuditHead).values(seq=seq, last_hash=rows[seq - 1]["hash"]))


async def truncate(session: AsyncSession, seq: int) -> None:
    await session.execute(delete(EVENTS).where(EVENTS.c.seq > seq))
    await roll_head_back(session, seq)


async def unseal_from(session: AsyncSession, seq: int, **change: object) -> None:
    """Edit event ``seq``, unseal it and every later one, and roll the head back: the next
    sealer chains them again."""
    target = (await sealed(session))[seq - 1]["id"]
    await session.execute(update(EVENTS).where(EVENTS.c.id == target).values(change))
    unsealed = {"seq": None, "prev_hash": None, "hash": None}
    await session.execute(update(EVENTS).where(EVENTS.c.seq >= seq).values(unsealed))
    await session.execute(update(AuditHead).values(seq=seq - 1))
    await roll_head_back(session, seq - 1)


async def slip_in(session: AsyncSession, days_ago: float) -> None:
    """An unsealed event dated in the past, for the sealer to chain as if it were new."""
    await session.execute(
        insert(EVENTS).values(
            occurred_at=utcnow() - timedelta(days=days_ago),
            actor_role="admin",
            actor_label="admin@maregionsud.fr",
            action="payout_batch.cancelled",
            entity_type="payout_batch",
            entity_id="1",
        )
    )


def said(result: Result) -> str:
    return " ".join(result.stderr.split())


async def test_an_auditor_with_the_public_key_finds_each_rewrite(
    empty_database_url: str, tmp_path: Path
) -> None:
    """Four events, a checkpoint after the second and the fourth, the checkpoints and the
    public key published: each rewrite a database writer can do undetected by the chain
    alone, done with SQL and then undone, is named by the auditor's `audit verify`."""
    url, folder = empty_database_url, tmp_path / "checkpoints"
    database = Database.from_settings(make_settings(url))
    await schema.upgrade(database.engine)
    await record(database, 1, 2)
    assert (await service_cli(url, folder, "audit", "checkpoint")).code == 0
    await record(database, 3, 4)
    taken = await service_cli(url, folder, "audit", "checkpoint")
    assert taken.code == 0, taken.stderr
    assert Checkpoint.model_validate_json(taken.stdout).seq == 4
    public_key = tmp_path / "audit.pem"
    public_key.write_text((await service_cli(url, folder, "audit", "public-key")).stdout)
    async with database.sessionmaker() as session:
        snapshot = (await session.execute(select(EVENTS))).mappings().all()
        head = (await session.execute(select(AuditHead))).scalar_one().model_dump()

    async def tampered(tamper: Tamper, *, then_seal: bool = False) -> Result:
        async with database.sessionmaker() as session, session.begin():
            await tamper(session)
        if then_seal:
            await audit.seal_committed(database)
        result = await auditor_verify(url, folder, public_key)
        async with database.sessionmaker() as session, session.begin():
            await session.execute(delete(EVENTS))
            await session.execute(insert(EVENTS), [dict(row) for row in snapshot])
            await session.execute(update(AuditHead).values(**head))
        return result

    try:
        intact = await auditor_verify(url, folder, public_key)
        assert intact.code == 0, intact.stderr
        assert "4 events verified, against 2 signed checkpoints." in said(intact)
        third = str({row["seq"]: row["id"] for row in snapshot}[3])
        rolled_back = "chaîne tronquée ou tête reculée : le point de contrôle signé le "
        rewritten = "chaîne réécrite à partir d'ici : le point de contrôle signé le "
        slipped = r"\d+"  # the row id the forger's insert got
        # What each rewrite does, whether a sealer runs after it, and the event (its seq
        # and row id) and reason named.
        kinds: dict[str, tuple[Tamper, bool, int, str, str]] = {
            "truncated": (lambda s: truncate(s, 2), False, 3, "None", rolled_back),
            "head rolled back": (lambda s: roll_head_back(s, 2), False, 3, "None", rolled_back),
            "recomputed": (lambda s: rewrite_from(s, 3, entity_id="9"), False, 3, third, rewritten),
            "re-sealed": (lambda s: unseal_from(s, 3, actor_label="x"), True, 3, third, rewritten),
            "slipped in, sealed": (lambda s: slip_in(s, 1), True, 5, slipped, audit.SEALED_LATE),
            "slipped in, unsealed": (lambda s: slip_in(s, 1), False, 5, slipped, audit.UNSEALED),
        }
        for kind, (tamper, then_seal, seq, row, reason) in kinds.items():
            result = await tampered(tamper, then_seal=then_seal)
            assert result.code == 1, (kind, result.stderr)
            named = rf"Audit chain broken at event #{seq} \(row id {row}\): “{re.escape(reason)}"
            assert re.search(named, said(result)), (kind, said(result))
        again = await auditor_verify(url, folder, public_key)
        assert again.code == 0 and "4 events verified" in said(again)
    finally:
        await database.engine.dispose()


async def test_verify_seals_nothing_itself(empty_database_url: str, tmp_path: Path) -> None:
    database = Database.from_settings(make_settings(empty_database_url))
    await schema.upgrade(database.engine)
    try:
        await record(database, 1)
        result = await service_cli(empty_database_url, tmp_path, "audit", "verify")
        assert result.code == 0, result.stderr
        assert "0 events verified" in said(result)
        async with database.sessionmaker() as session:
            assert (await session.execute(select(AuditEvent))).scalar_one().seq is None
    finally:
        await database.engine.dispose()


class TestCheckpointFiles:
    def test_a_checkpoint_edited_or_signed_with_another_key_is_refused(
        self, tmp_path: Path
    ) -> None:
        service = make_settings("sqlite+aiosqlite://", audit_checkpoint_dir=tmp_path)
        other = make_settings("sqlite+aiosqlite://", audit_signing_secret=AUDITOR_SECRET)
        now = utcnow().replace(microsecond=0)
        genuine = audit_checkpoints.sign(service, 7, "a" * 64, now)
        path = audit_checkpoints.write_files(tmp_path, genuine, service)
        key = audit_checkpoints.load_public_key(tmp_path / audit_checkpoints.PUBLIC_KEY_FILE)
        published = audit_checkpoints.read_checkpoints([tmp_path])
        assert audit_checkpoints.attestations(published, key) == [
            audit.Attestation(7, "a" * 64, now)
        ]
        edited = genuine.model_copy(update={"seq": 8})
        for forged in (edited, audit_checkpoints.sign(other, 7, "a" * 64, now)):
            path.write_text(forged.model_dump_json())
            with pytest.raises(audit_checkpoints.CheckpointForged, match="not signed by"):
                audit_checkpoints.attestations(audit_checkpoints.read_checkpoints([path]), key)
        path.write_text("{not json")
        with pytest.raises(audit_checkpoints.CheckpointUnreadable):
            audit_checkpoints.read_checkpoints([tmp_path])

    async def test_an_unwritable_folder_is_a_refusal_not_a_crash(
        self, empty_database_url: str, tmp_path: Path
    ) -> None:
        blocked = tmp_path / "a-file"
        blocked.write_text("")
        database = Database.from_settings(make_settings(empty_database_url))
        await schema.upgrade(database.engine)
        try:
            await record(database, 1)
            result = await service_cli(empty_database_url, blocked, "audit", "checkpoint")
            assert result.code == 1 and "Traceback" not in result.stderr
            assert "Refused: “Écriture impossible dans" in said(result)
        finally:
            await database.engine.dispose()


async def checkpoints_kept(database: Database) -> list[AuditCheckpoint]:
    async with database.sessionmaker() as session:
        query = select(AuditCheckpoint).order_by(AuditCheckpoint.id)  # type: ignore[arg-type]
        return list((await session.execute(query)).scalars())


async def test_the_sealer_signs_a_grown_chain_once_per_interval(empty_database_url: str) -> None:
    settings = make_settings(empty_database_url, audit_checkpoint_seconds=3600)
    database = Database.from_settings(settings)
    await schema.upgrade(database.engine)
    sent: list[tuple[str, str]] = []

    async def notify(session: AsyncSession, event: str, to: str, data: dict[str, Any]) -> None:
        sent.append((event, to))

    async def round_() -> None:
        await audit.seal_committed(database)
        await audit_checkpoints.checkpoint_if_due(database, settings, notify)

    try:
        await round_()
        assert await checkpoints_kept(database) == []  # nothing to sign yet
        await record(database, 1)
        await round_()
        await record(database, 2)
        await round_()  # grown, but the last checkpoint is recent
        assert [c.seq for c in await checkpoints_kept(database)] == [1]
        async with database.sessionmaker() as session, session.begin():
            await session.execute(
                update(AuditCheckpoint).values(signed_at=utcnow() - timedelta(hours=2))
            )
        await round_()
        await round_()  # due again only once the chain grows again
        assert [c.seq for c in await checkpoints_kept(database)] == [1, 2]
        assert sent == []  # no auditor set
    finally:
        await database.engine.dispose()


async def test_a_running_server_publishes_lists_and_mails_its_checkpoints(
    empty_database_url: str, tmp_path: Path
) -> None:
    """Under uvicorn, the sealer's checkpoint is written to the folder, queued for the
    auditor in French, and listed to administrators with the key that verifies it."""
    await seed_redemption_load(empty_database_url, 1)
    settings = make_settings(empty_database_url)
    database = Database.from_settings(settings)
    async with database.sessionmaker() as session, session.begin():
        admin = await create_user(session, Role.admin)
    folder = tmp_path / "published"
    env = {
        "MCD_AUDIT_SEAL_SECONDS": "0.1",
        "MCD_AUDIT_CHECKPOINT_DIR": str(folder),
        "MCD_AUDIT_AUDITOR_EMAILS": "auditrice@maregionsud.fr, cour@ccomptes.fr",
    }
    try:
        async with serve(empty_database_url, 1, None, **env) as server:
            deadline = asyncio.get_running_loop().time() + 30
            while not list(folder.glob("checkpoint-*.json")):
                assert asyncio.get_running_loop().time() < deadline, "no checkpoint written"
                await asyncio.sleep(0.1)
            async with httpx.AsyncClient(base_url=server.url) as client:
                listed = await client.get(
                    "/api/v1/audit/checkpoints", headers=bearer(settings, admin)
                )
        assert listed.status_code == 200, listed.text
        body = listed.json()
        [published] = audit_checkpoints.read_checkpoints([folder])
        assert body["total"] == 1 and body["items"] == [published[1].model_dump(mode="json")]
        key_file = folder / audit_checkpoints.PUBLIC_KEY_FILE
        assert body["public_key"] == key_file.read_text().rstrip("\n") + "\n"
        async with database.sessionmaker() as session:
            head = (await session.execute(select(AuditHead))).scalar_one()
            mails = (await session.execute(select(Notification))).scalars().all()
        assert published[1].seq == head.seq > 0  # the seeded events and the admin, all signed
        kept = {(m.recipient, m.event) for m in mails if m.event == "audit_checkpoint"}
        assert kept == {
            ("auditrice@maregionsud.fr", "audit_checkpoint"),
            ("cour@ccomptes.fr", "audit_checkpoint"),
        }
        message = rendering.render("audit_checkpoint", payload.decode(mails[-1].data))
        assert published[1].signature in message.text and "Bonjour" in message.text
    finally:
        await database.engine.dispose()
