"""The outbox: one row per message, written in the transaction of the change that causes it."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime, enum_column


class NotificationStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    dead = "dead"


class Notification(SQLModel, table=True):
    """A message to deliver. A worker claims it with a lease (``locked_until``) and a
    ``lease_token``; it records the outcome only if the token is still its own, so that a
    worker whose lease expired cannot overwrite the work of the one that took over."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event: str = Field(max_length=60)
    recipient: str = Field(max_length=254)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    message_id: str = Field(max_length=200, unique=True)
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    status: NotificationStatus = Field(
        default=NotificationStatus.queued, sa_type=enum_column(NotificationStatus)
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NotificationAttachment(SQLModel, table=True):
    __tablename__ = "notification_attachment"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    content: bytes = Field(sa_type=LargeBinary)
