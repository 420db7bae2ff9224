"""An append-only audit trail whose rows are chained by SHA-256.

Each row stores the hash of the row before it; a one-row ``audit_head`` holds the last
sequence number and hash, so that the chain never forks and a deleted last row is noticed.

Events are recorded in the caller's transaction and chained when it commits: the head row
is locked only for the commit itself, not while the rest of the transaction runs, so that
concurrent writers do not queue behind each other. An event recorded in a savepoint that
rolls back is dropped with it.
"""

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, select
from sqlalchemy import event as orm_events
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import Field, SQLModel

from voucher_service.core.context import current_actor, request_id
from voucher_service.core.db import UTCDateTime, utcnow

GENESIS = "0" * 64
PENDING = "audit.pending"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
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
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


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
    """Record an event in the caller's transaction: it is chained and written when that
    transaction commits, and dropped if it rolls back."""
    actor = current_actor.get()
    entry = AuditEvent(
        seq=0,
        actor_id=actor.user_id,
        actor_role=actor.role,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=request_id.get(),
        prev_hash="",
        hash="",
    )
    sync = session.sync_session
    recorded_in = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault(PENDING, []).append((recorded_in, entry))
    return entry


@orm_events.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    """Chain the recorded events after everything else was flushed: the head row stays
    locked from here to the end of the commit only."""
    pending = session.info.pop(PENDING, [])
    if not pending:
        return
    session.flush()
    query = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = session.execute(query).scalar_one()  # created by migration 0010
    for _, entry in pending:
        entry.seq, entry.prev_hash = head.seq + 1, head.last_hash
        entry.hash = _digest(entry)
        head.seq, head.last_hash = entry.seq, entry.hash
        session.add(entry)


@orm_events.listens_for(Session, "after_transaction_end")
def _drop_rolled_back(session: Session, ended: SessionTransaction) -> None:
    """A transaction that ends with events still pending rolled back: they go with it."""
    pending = session.info.get(PENDING)
    if pending:
        session.info[PENDING] = [
            (recorded_in, entry)
            for recorded_in, entry in pending
            if not _inside(recorded_in, ended)
        ]


def _inside(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    if transaction is None:
        return ended.parent is None
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _jsonable(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return json.loads(json.dumps(data, default=str))


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: int | None
    reason: str


async def _events(session: AsyncSession) -> AsyncIterator[AuditEvent]:
    result = await session.stream_scalars(select(AuditEvent).order_by(AuditEvent.seq))
    async for event in result:
        yield event


async def verify_chain(session: AsyncSession) -> tuple[int, ChainBreak | None]:
    """How many events were checked, and the first break in the chain if any."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    async for event in _events(session):
        count += 1
        if event.seq != expected_seq:
            return count, ChainBreak(expected_seq, event.id, "événement manquant avant celui-ci")
        if event.prev_hash != expected_prev:
            return count, ChainBreak(event.seq, event.id, "lien rompu avec l'événement précédent")
        if _digest(event) != event.hash:
            return count, ChainBreak(event.seq, event.id, "contenu modifié")
        expected_prev, expected_seq = event.hash, event.seq + 1
    head = (await session.execute(select(AuditHead))).scalar_one_or_none()
    if head is not None and (head.seq, head.last_hash) != (expected_seq - 1, expected_prev):
        return count, ChainBreak(expected_seq, None, "derniers événements supprimés")
    return count, None
