"""An append-only audit trail whose rows are chained by SHA-256.

An event is inserted in the transaction of the change it records, and so commits or rolls
back with it; nothing is locked for it. A sealer then chains the committed events, in the
order it finds them: each gets the next sequence number and the hash of the one before it.
A one-row ``audit_head`` holds the last sequence number and hash, so that the chain never
forks and a deleted last row is noticed.

Every server process runs the sealer every ``MCD_AUDIT_SEAL_SECONDS``; the head row is
taken with ``SKIP LOCKED``, so one seals while the others move on. Chaining at commit
instead would queue every audited transaction of the service behind that one row.

The chain alone is no proof against someone who can write to the database: they can
recompute it. Signed checkpoints (``audit_checkpoints``) published outside the database
pin the chain's hash at a sequence number; :func:`verify_chain` checks the chain against
the :class:`Attestation` they give, and that every event was sealed within a grace delay.
"""

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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


async def lock_head(session: AsyncSession, *, wait: bool) -> AuditHead | None:
    """The head row, locked until the transaction ends: no sealer moves it meanwhile. None
    at once when another sealer holds it, unless ``wait`` (a missing head fails
    verify_chain)."""
    head_query = (
        select(AuditHead)
        .where(col(AuditHead.id) == 1)
        .with_for_update(skip_locked=not wait)
        .execution_options(populate_existing=True)  # as locked, not as this session saw it
    )
    return (await session.execute(head_query)).scalar_one_or_none()  # made by migration 0010


async def seal(session: AsyncSession, limit: int = SEAL_BATCH, *, wait: bool = False) -> int:
    """Chain up to ``limit`` events not sealed yet, oldest first, and say how many. Without
    ``wait``, 0 at once when another sealer holds the head."""
    head = await lock_head(session, wait=wait)
    if head is None:
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


async def keep_sealing(
    database: Database, interval: float, then: Callable[[], Awaitable[object]] | None = None
) -> None:
    """A server process's sealer, until it is cancelled; a database outage delays it.
    ``then`` runs after each round (the checkpoints)."""
    while True:
        try:
            await seal_committed(database)
            if then is not None:
                await then()
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


@dataclass(frozen=True)
class Attestation:
    """What a signed checkpoint vouches for: the chain's hash at event ``seq``, as the chain
    stood at ``signed_at``."""

    seq: int
    hash: str
    signed_at: datetime


MISSING = "événement manquant avant celui-ci"
LINK = "lien rompu avec l'événement précédent"
CONTENT = "contenu modifié"
TRUNCATED = "derniers événements supprimés"
APPENDED = "événement ajouté après la fin de la chaîne"
REWRITTEN = (
    "chaîne réécrite à partir d'ici : le point de contrôle signé le {when} atteste une autre "
    "empreinte à l'événement n° {seq}"
)
ROLLED_BACK = (
    "chaîne tronquée ou tête reculée : le point de contrôle signé le {when} atteste "
    "{seq} événements"
)
SEALED_LATE = (
    "événement scellé après un point de contrôle signé plus tard que lui : ajouté après coup"
)
UNSEALED = "événement resté non scellé au-delà du délai de scellement"


class _Walk:
    """The chain read in order: each event's place, link and content, the hash it has at
    each checkpoint, and whether it was sealed before a checkpoint signed after it."""

    def __init__(self, attested: Sequence[Attestation], grace: timedelta | None) -> None:
        self.pending = sorted((a for a in attested if a.seq > 0), key=lambda a: a.seq)
        self.grace = grace
        self.expected_prev, self.expected_seq, self.count = GENESIS, 1, 0
        self.passed: Attestation | None = None  # the last checkpoint the chain matched
        self.since: AuditEvent | None = None  # the first event after it

    def step(self, event: AuditEvent) -> ChainBreak | None:
        self.count += 1
        if event.seq != self.expected_seq:
            return ChainBreak(self.expected_seq, event.id, MISSING)
        if event.prev_hash != self.expected_prev:
            return ChainBreak(event.seq, event.id, LINK)
        if _digest(event) != event.hash:
            return ChainBreak(event.seq, event.id, CONTENT)
        assert event.hash is not None
        if self._sealed_late(event):
            return ChainBreak(event.seq, event.id, SEALED_LATE)
        self.expected_prev, self.expected_seq = event.hash, event.seq + 1
        self.since = self.since or event
        return self._reach_checkpoints(event)

    def _sealed_late(self, event: AuditEvent) -> bool:
        """Sealed after a checkpoint signed more than the grace after the event occurred:
        a legitimate event is sealed within the grace, before any such checkpoint."""
        if self.passed is None or self.grace is None:
            return False
        return event.occurred_at + self.grace < self.passed.signed_at

    def _reach_checkpoints(self, event: AuditEvent) -> ChainBreak | None:
        while self.pending and self.pending[0].seq == event.seq:
            checkpoint = self.pending.pop(0)
            if checkpoint.hash != event.hash:
                assert self.since is not None
                why = REWRITTEN.format(when=_when(checkpoint), seq=checkpoint.seq)
                return ChainBreak(self.since.seq or 0, self.since.id, why)
            self.passed, self.since = checkpoint, None
        return None

    def finish(self, head: AuditHead) -> ChainBreak | None:
        if (head.seq, head.last_hash) != (self.expected_seq - 1, self.expected_prev):
            return ChainBreak(self.expected_seq, None, TRUNCATED)
        if self.pending:
            furthest = self.pending[-1]
            why = ROLLED_BACK.format(when=_when(furthest), seq=furthest.seq)
            return ChainBreak(self.expected_seq, None, why)
        return None


def _when(checkpoint: Attestation) -> str:
    return checkpoint.signed_at.strftime("%d/%m/%Y à %H:%M:%S UTC")


async def verify_chain(
    session: AsyncSession, attested: Sequence[Attestation] = (), grace: timedelta | None = None
) -> tuple[int, ChainBreak | None]:
    """How many sealed events were checked, and the first break in the chain if any: against
    the ``attested`` checkpoints, and with a ``grace``, events left unsealed longer or sealed
    after a checkpoint signed that much later than them. The head is read first: events that
    a sealer chains meanwhile come after it, unchecked."""
    head = (await session.execute(select(AuditHead))).scalar_one_or_none()
    if head is None:
        return 0, ChainBreak(1, None, "tête de la chaîne introuvable")
    walk = _Walk(attested, grace)
    async for event in _events(session, head.seq):
        if broken := walk.step(event):
            return walk.count, broken
    broken = walk.finish(head) or await _appended(session)
    if broken is None and grace is not None:
        broken = await _unsealed(session, head, grace)
    return walk.count, broken


async def _appended(session: AsyncSession) -> ChainBreak | None:
    """A sealer moves the head in the transaction that seals, so in any one snapshot no
    sealed event lies beyond it: one there was written behind the sealer's back (and would
    make the next seal fail on its seq)."""
    beyond = (
        select(AuditEvent)
        .where(col(AuditEvent.seq) > select(col(AuditHead.seq)).scalar_subquery())
        .order_by(col(AuditEvent.seq))
        .limit(1)
    )
    appended = (await session.execute(beyond)).scalars().first()
    if appended is None:
        return None
    assert appended.seq is not None
    return ChainBreak(appended.seq, appended.id, APPENDED)


async def _unsealed(session: AsyncSession, head: AuditHead, grace: timedelta) -> ChainBreak | None:
    """The oldest event that no sealer chained within ``grace``: sealing has stopped, or the
    row was slipped in to be sealed later."""
    overdue = (
        select(AuditEvent)
        .where(col(AuditEvent.seq).is_(None), col(AuditEvent.occurred_at) < utcnow() - grace)
        .order_by(col(AuditEvent.id))
        .limit(1)
    )
    late = (await session.execute(overdue)).scalars().first()
    return None if late is None else ChainBreak(head.seq + 1, late.id, UNSEALED)
