"""The outbox's rules: enqueue in the caller's transaction, list, and requeue dead messages.

Domains call :func:`enqueue` next to the state change that causes the message; it only
flushes, so a rolled-back change sends nothing and a committed one is always delivered.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notifications import payload, rendering, repository
from notifications.errors import NotificationNotDead, NotificationNotFound, UnknownEvent
from notifications.models import Notification, NotificationAttachment, NotificationStatus
from notifications.schemas import Attachment
from voucher_service.core import audit
from voucher_service.core.clock import utcnow

log = logging.getLogger("notifications")

MESSAGE_ID_DOMAIN = "moncoachdigital.maregionsud.fr"


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"


# What the footer of a message that belongs to no programme names (an invitation, a reset).


async def enqueue(
    session: AsyncSession,
    event: str,
    recipient: str,
    data: dict[str, Any],
    attachments: Sequence[Attachment] = (),
    *,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Queue a message; None when one with the same ``dedupe_key`` was queued before.

    Nothing is rendered here: only the event's template is checked to exist. A message
    that cannot be a duplicate is written with the transaction's next flush, together with
    the others queued beside it.
    """
    if not rendering.has_template(event):
        raise UnknownEvent(f"Aucun modèle pour l'événement « {event} ».")
    notification = Notification(
        event=event,
        recipient=recipient.strip(),
        data=payload.encode(data),
        message_id=new_message_id(),
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None and not attachments:
        session.add(notification)
        return notification
    created = await repository.insert_unless_duplicate(session, notification)
    if created is None:
        log.info("notification %s already queued for %s: skipped", event, dedupe_key)
        return None
    assert created.id is not None
    # The outbox row is its own record: the change that queued it is audited by its domain,
    # and one audit append per message would serialise every e-mailing transaction.
    await repository.add_attachments(session, created.id, attachments)
    return created


@dataclass(frozen=True)
class MessageView:
    """A message as its recipient reads it, for the staff who watch the outbox."""

    notification: Notification
    rendered: rendering.RenderedMessage
    attachments: list[NotificationAttachment]


# Links that let whoever holds them act as the recipient: staff see that there was one.
SECRET_LINKS = {
    "password_reset": "reset_url",
    "account_created": "reset_url",
    "expert_invitation": "invitation_url",
}
MASKED_LINK = "[lien personnel masqué : seul le destinataire peut l'utiliser]"


async def read(session: AsyncSession, notification_id: int) -> MessageView:
    """The message rendered as it is (or was) sent, a personal link masked."""
    notification = await repository.get(session, notification_id)
    if notification is None:
        raise NotificationNotFound(f"Aucun message n°{notification_id}.")
    data = payload.decode(notification.data)
    if (key := SECRET_LINKS.get(notification.event)) and key in data:
        data[key] = MASKED_LINK
    rendered = rendering.render(notification.event, data)
    attachments = await repository.attachment_rows(session, notification_id)
    return MessageView(notification, rendered, attachments)


async def attachment(
    session: AsyncSession, notification_id: int, attachment_id: int
) -> NotificationAttachment:
    """One file sent with a message."""
    for row in await repository.attachment_rows(session, notification_id):
        if row.id == attachment_id:
            return row
    raise NotificationNotFound(
        f"Aucune pièce jointe n°{attachment_id} au message n°{notification_id}."
    )


async def list_page(
    session: AsyncSession, status: NotificationStatus | None, page: int, per_page: int
) -> tuple[list[Notification], int]:
    return await repository.page(session, status, (page - 1) * per_page, per_page)


async def count_by_status(session: AsyncSession) -> dict[NotificationStatus, int]:
    return await repository.count_by_status(session)


async def requeue(session: AsyncSession, notification_id: int) -> Notification:
    """Give a dead message a fresh set of attempts, starting now (same Message-ID)."""
    notification = await repository.get_for_update(session, notification_id)
    if notification is None:
        raise NotificationNotFound(f"Aucun message n°{notification_id}.")
    if notification.status is not NotificationStatus.dead:
        raise NotificationNotDead(
            f"Le message n°{notification_id} n'est pas en échec définitif "
            f"(état : {notification.status.value})."
        )
    before = {"status": notification.status.value, "attempts": notification.attempts}
    notification.status = NotificationStatus.queued
    notification.attempts = 0
    notification.next_attempt_at = utcnow()
    await session.flush()
    audit.record(
        session,
        "notification.requeued",
        "notification",
        notification_id,
        before=before,
        after={"status": notification.status.value, "attempts": 0},
    )
    return notification
