from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from notifications.models import NotificationStatus


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message, e.g. the cheque PDF."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, detached from the database while it is being sent."""

    id: int
    lease_token: str
    attempts: int
    event: str
    recipient: str
    message_id: str
    created_at: datetime
    data: dict[str, Any]
    attachments: list[Attachment]


class NotificationPublic(BaseModel):
    """A message as administrators see it; its template data stay private."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event: str
    recipient: str
    status: NotificationStatus
    attempts: int = Field(description="Delivery attempts so far")
    message_id: str = Field(description="The Message-ID header, the same on every attempt")
    dedupe_key: str | None
    created_at: datetime
    next_attempt_at: datetime = Field(description="When a queued message is tried next")
    sent_at: datetime | None
    last_error: str | None = Field(description="Why the last attempt failed")


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    total: int
    page: int
    per_page: int
