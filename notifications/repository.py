"""Outbox queries. Claiming is decided by the database: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite ignores it and serialises writers with ``BEGIN IMMEDIATE``)."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications.models import Notification, NotificationAttachment, NotificationStatus
from notifications.schemas import Attachment

Status = NotificationStatus


async def insert_unless_duplicate(
    session: AsyncSession, notification: Notification
) -> Notification | None:
    """Insert, or do nothing when a row already has the same ``dedupe_key``."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Notification)
        .values(**notification.model_dump(exclude={"id"}))
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def add_attachments(
    session: AsyncSession, notification_id: int, attachments: Sequence[Attachment]
) -> None:
    session.add_all(
        NotificationAttachment(
            notification_id=notification_id,
            filename=attachment.filename,
            content_type=attachment.content_type,
            content=attachment.content,
        )
        for attachment in attachments
    )
    await session.flush()


async def attachments_of(
    session: AsyncSession, notification_ids: Sequence[int | None]
) -> dict[int, list[Attachment]]:
    query = (
        select(NotificationAttachment)
        .where(col(NotificationAttachment.notification_id).in_(notification_ids))
        .order_by(col(NotificationAttachment.id))
    )
    found: dict[int, list[Attachment]] = {}
    for row in (await session.execute(query)).scalars():
        found.setdefault(row.notification_id, []).append(
            Attachment(row.filename, row.content_type, row.content)
        )
    return found


async def get(session: AsyncSession, notification_id: int) -> Notification | None:
    return await session.get(Notification, notification_id)


async def attachment_rows(
    session: AsyncSession, notification_id: int
) -> list[NotificationAttachment]:
    query = (
        select(NotificationAttachment)
        .where(col(NotificationAttachment.notification_id) == notification_id)
        .order_by(col(NotificationAttachment.id))
    )
    return list((await session.execute(query)).scalars())


async def page(
    session: AsyncSession, status: Status | None, offset: int, limit: int
) -> tuple[list[Notification], int]:
    """One page, newest first, and the total matching."""
    where = [] if status is None else [col(Notification.status) == status]
    query = select(Notification).where(*where).order_by(col(Notification.id).desc())
    rows = (await session.execute(query.offset(offset).limit(limit))).scalars().all()
    total = await session.execute(select(func.count()).select_from(Notification).where(*where))
    return list(rows), int(total.scalar_one())


async def count_by_status(session: AsyncSession) -> dict[Status, int]:
    query = select(col(Notification.status), func.count()).group_by(col(Notification.status))
    counts = {status: 0 for status in Status}
    counts.update({status: count for status, count in (await session.execute(query)).all()})
    return counts


async def get_for_update(session: AsyncSession, notification_id: int) -> Notification | None:
    query = select(Notification).where(col(Notification.id) == notification_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def claim_due(
    session: AsyncSession, due_before: datetime, lease_until: datetime, limit: int
) -> list[Notification]:
    """Lease up to ``limit`` messages due before that time, each with its own token, and
    count the attempt.

    Due: queued and ``next_attempt_at`` reached, or left ``sending`` by a worker whose
    lease expired (it crashed); the other workers skip the rows this one has locked.
    """
    due = or_(
        and_(
            col(Notification.status) == Status.queued,
            col(Notification.next_attempt_at) <= due_before,
        ),
        and_(
            col(Notification.status) == Status.sending, col(Notification.locked_until) <= due_before
        ),
    )
    query = (
        select(Notification)
        .where(due)
        .order_by(col(Notification.next_attempt_at), col(Notification.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list((await session.execute(query)).scalars())
    for notification in claimed:
        notification.status = Status.sending
        notification.locked_until = lease_until
        notification.lease_token = uuid.uuid4().hex
        notification.attempts += 1
    await session.flush()
    return claimed


async def finish_attempt(
    session: AsyncSession, notification_id: int, lease_token: str, values: dict[str, Any]
) -> bool:
    """Record an attempt's outcome, unless another worker has claimed the row since."""
    statement = (
        update(Notification)
        .where(
            col(Notification.id) == notification_id,
            col(Notification.status) == Status.sending,
            col(Notification.lease_token) == lease_token,
        )
        .values(locked_until=None, lease_token=None, **values)
        .returning(col(Notification.id))
    )
    return (await session.execute(statement)).first() is not None
