"""An append-only audit trail whose rows are chained by SHA-256.

An event is inserted in the transaction of the change it records, and so commits or rolls
back with it; nothing is locked for it. A sealer then chains the committed events, in the
order it finds them: each gets the next sequence number and the hash of the one before it.
A one-row ``audit_head`` holds the last sequence number and hash, so that the chain never
forks and a deleted last row is noticed.

Every server process runs the sealer every ``MCD_AUDIT_SEAL_SECONDS``; the head row is
taken with ``SKIP LOCKED``, so one seals while the others move on. Chaining at commit
instead would queue every audited transaction of the service behind that one row.
"""

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from voucher_service.core.clock import utcnow
from voucher_service.core.context import current_actor, request_id
from voucher_service.core.db import Database, UTCDateTime

GENESIS = "0" * 64
SEAL_BATCH = 500
log = logging.getLogger("voucher_service.audit")


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    # The chain: empty until the event is sealed.
    seq: int | None = Field(default=None, unique=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: int | None = None
    actor_role: str = Field(max_length=20)
    actor_label: str = Field(max_length=254)
    action: str = Field(max_length=80, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: str | None = Field(default=None, max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    request_id: str | None = Field(default=None, max_length=64)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    last_hash: str = Field(default=GENESIS, max_length=64)


def _digest(event: AuditEvent) -> str:
    payload = {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "actor_label": event.actor_label,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    session: AsyncSession,
    action: str,
    entity_type: str,
    entity_id: object = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record an event in the caller's transaction: written with its next flush, and gone
    if that transaction (or the savepoint it was recorded in) rolls back."""
    actor = current_actor.get()
    entry = AuditEvent(
        actor_id=actor.user_id,
        actor_role=actor.role,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=request_id.get(),
    )
    session.add(entry)
    return entry


async def seal(session: AsyncSession, limit: int = SEAL_BATCH, *, wait: bool = False) -> int:
    """Chain up to ``limit`` events not sealed yet, oldest first, and say how many. Without
    ``wait``, 0 at once when another sealer holds the head."""
    head_query = (
        select(AuditHead)
        .where(col(AuditHead.id) == 1)
        .with_for_update(skip_locked=not wait)
        .execution_options(populate_existing=True)  # as locked, not as this session saw it
    )
    head = (await session.execute(head_query)).scalar_one_or_none()  # made by migration 0010
    if head is None:  # locked by another sealer (a missing head fails verify_chain)
        return 0
    unsealed = (
        select(AuditEvent)
        .where(col(AuditEvent.seq).is_(None))
        .order_by(col(AuditEvent.id))
        .limit(limit)
    )
    events = (await session.execute(unsealed)).scalars().all()
    for event in events:
        event.seq, event.prev_hash = head.seq + 1, head.last_hash
        event.hash = _digest(event)
        head.seq, head.last_hash = event.seq, event.hash
    await session.flush()
    return len(events)


async def seal_committed(database: Database, *, wait: bool = False) -> int:
    """Seal every committed event, a batch per transaction; how many were sealed."""
    total = 0
    while True:
        async with database.sessionmaker() as session, session.begin():
            sealed = await seal(session, wait=wait)
        total += sealed
        if sealed < SEAL_BATCH:
            return total


async def keep_sealing(database: Database, interval: float) -> None:
    """A server process's sealer, until it is cancelled; a database outage delays it."""
    while True:
        try:
            await seal_committed(database)
        except (SQLAlchemyError, OSError) as error:
            log.warning("audit events not sealed yet: %s", error)
        except Exception:  # a sealer that stopped would leave every later event unsealed
            log.exception("audit sealing failed; retrying")
        await asyncio.sleep(interval)


def _jsonable(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    jsonable: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return jsonable


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: int | None
    reason: str


async def _events(session: AsyncSession, last_seq: int) -> AsyncIterator[AuditEvent]:
    sealed = select(AuditEvent).where(col(AuditEvent.seq) <= last_seq).order_by(col(AuditEvent.seq))
    result = await session.stream_scalars(sealed)
    async for event in result:
        yield event


async def verify_chain(session: AsyncSession) -> tuple[int, ChainBreak | None]:
    """How many sealed events were checked, and the first break in the chain if any. The
    head is read first: events that a sealer chains meanwhile come after it, unchecked."""
    head = (await session.execute(select(AuditHead))).scalar_one_or_none()
    if head is None:
        return 0, ChainBreak(1, None, "tête de la chaîne introuvable")
    expected_prev, expected_seq, count = GENESIS, 1, 0
    async for event in _events(session, head.seq):
        count += 1
        if event.seq != expected_seq:
            return count, ChainBreak(expected_seq, event.id, "événement manquant avant celui-ci")
        if event.prev_hash != expected_prev:
            return count, ChainBreak(event.seq, event.id, "lien rompu avec l'événement précédent")
        if _digest(event) != event.hash:
            return count, ChainBreak(event.seq, event.id, "contenu modifié")
        expected_prev, expected_seq = event.hash, event.seq + 1
    if (head.seq, head.last_hash) != (expected_seq - 1, expected_prev):
        return count, ChainBreak(expected_seq, None, "derniers événements supprimés")
    # A sealer moves the head in the transaction that seals, so in any one snapshot no
    # sealed event lies beyond it: one there was written behind the sealer's back (and
    # would make the next seal fail on its seq).
    beyond = (
        select(AuditEvent)
        .where(col(AuditEvent.seq) > select(col(AuditHead.seq)).scalar_subquery())
        .order_by(col(AuditEvent.seq))
        .limit(1)
    )
    appended = (await session.execute(beyond)).scalars().first()
    if appended is not None:
        assert appended.seq is not None
        return count, ChainBreak(
            appended.seq, appended.id, "événement ajouté après la fin de la chaîne"
        )
    return count, None
