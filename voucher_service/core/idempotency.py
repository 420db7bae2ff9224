"""`Idempotency-Key` with Stripe's semantics: a retry with the same key and body gets the
first answer again; the same key with another body is refused.

The key is claimed by an INSERT ... ON CONFLICT DO NOTHING in the request's transaction: a
concurrent retry waits on the unique index until the first request commits (PostgreSQL)
or queues behind its write lock (SQLite), then replays the stored answer.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Column, CursorResult, UniqueConstraint, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime
from voucher_service.core.errors import Unprocessable

RETENTION = timedelta(hours=24)


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    title = "Cette clé d'idempotence a déjà servi pour une autre requête"


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("owner", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=64)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    status_code: int | None = None
    body: Any | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession, owner: str, key: str, request_print: str
) -> StoredResponse | None:
    """None when this request owns the key; else the first request's stored answer."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(IdempotencyRecord)
        .values(owner=owner, key=key, fingerprint=request_print, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["owner", "key"])
        .returning(col(IdempotencyRecord.id))
    )
    if (await session.execute(statement)).first() is not None:
        return None
    query = select(IdempotencyRecord).where(
        col(IdempotencyRecord.owner) == owner, col(IdempotencyRecord.key) == key
    )
    record = (await session.execute(query)).scalar_one()
    if record.fingerprint != request_print or record.status_code is None:
        raise IdempotencyKeyReused()
    return StoredResponse(record.status_code, record.body)


async def complete(
    session: AsyncSession, owner: str, key: str, status_code: int, body: Any
) -> None:
    """Store the answer with the claim, in the same transaction as the work it describes."""
    await session.execute(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.owner) == owner, col(IdempotencyRecord.key) == key)
        .values(status_code=status_code, body=json.loads(json.dumps(body, default=str)))
    )


async def purge_expired(session: AsyncSession) -> int:
    """Forget keys older than the retention (24 hours)."""
    # A DELETE's result is a CursorResult, which the typed execute() does not say.
    result = cast(
        CursorResult[Any],
        await session.execute(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.created_at) < utcnow() - RETENTION
            )
        ),
    )
    return int(result.rowcount or 0)
