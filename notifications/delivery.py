"""The worker's side of the outbox: claim due messages, send them, record each outcome.

A claim is committed before sending (status ``sending``, a lease, a token), and each
outcome in a transaction of its own; a worker that dies mid-batch leaves leases that
expire, and its messages are sent again with the same Message-ID. Several workers share
the work on PostgreSQL (``SKIP LOCKED``).
"""

import asyncio
import contextlib
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jinja2 import TemplateError
from sqlalchemy.exc import SQLAlchemyError

from notifications import payload, rendering, repository
from notifications.models import Notification
from notifications.models import NotificationStatus as Status
from notifications.schemas import Attachment, Outgoing
from notifications.smtp import (
    DeliveryFailure,
    PermanentFailure,
    ServerUnreachable,
    SmtpSender,
    compose,
)
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

log = logging.getLogger("notifications.delivery")
_random = random.SystemRandom()
# However long the outage, a server that is back is noticed within five minutes.
OUTAGE_PAUSE_MAX_SECONDS = 300.0


@dataclass
class Tally:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    unreachable: str | None = None

    def add(self, other: "Tally") -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.released += other.released
        self.unreachable = other.unreachable or self.unreachable


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """Exponential backoff with jitter: half of the delay fixed, half random."""
    exponent = min(max(attempts - 1, 0), 32)
    ceiling = min(settings.mail_retry_max_seconds, settings.mail_retry_seconds * 2**exponent)
    return timedelta(seconds=ceiling / 2 + _random.uniform(0, ceiling / 2))


def _detached(row: Notification, files: dict[int, list[Attachment]]) -> Outgoing:
    assert row.id is not None and row.lease_token is not None
    return Outgoing(
        id=row.id,
        lease_token=row.lease_token,
        attempts=row.attempts,
        event=row.event,
        recipient=row.recipient,
        message_id=row.message_id,
        created_at=row.created_at,
        data=row.data,
        attachments=files.get(row.id, []),
    )


async def claim(
    database: Database, settings: Settings, due_before: datetime, batch_size: int
) -> list[Outgoing]:
    lease_until = utcnow() + timedelta(seconds=settings.mail_lease_seconds)
    async with database.sessionmaker() as session, session.begin():
        rows = await repository.claim_due(session, due_before, lease_until, batch_size)
        files = await repository.attachments_of(session, [row.id for row in rows])
    return [_detached(row, files) for row in rows]


async def _attempt(
    settings: Settings, sender: SmtpSender, outgoing: Outgoing
) -> DeliveryFailure | None:
    try:
        rendered = rendering.render(outgoing.event, payload.decode(outgoing.data))
        message = compose(settings, outgoing, rendered)
    except (TemplateError, ValueError, TypeError) as error:
        return PermanentFailure(f"message impossible à composer : {type(error).__name__}: {error}")
    try:
        await sender.send(message)
    except DeliveryFailure as failure:
        return failure
    return None


def _outcome(
    settings: Settings, outgoing: Outgoing, failure: DeliveryFailure | None
) -> tuple[str, dict[str, Any]]:
    now = utcnow()
    if failure is None:
        return "sent", {"status": Status.sent, "sent_at": now, "last_error": None}
    if failure.permanent or outgoing.attempts >= settings.mail_max_attempts:
        return "dead", {"status": Status.dead, "last_error": str(failure)[:1000]}
    next_attempt_at = now + retry_delay(settings, outgoing.attempts)
    return "retried", {
        "status": Status.queued,
        "next_attempt_at": next_attempt_at,
        "last_error": str(failure)[:1000],
    }


async def _finish(
    database: Database, outgoing: Outgoing, kind: str, values: dict[str, Any], tally: Tally
) -> None:
    async with database.sessionmaker() as session, session.begin():
        kept = await repository.finish_attempt(session, outgoing.id, outgoing.lease_token, values)
    if not kept:
        kind = "lease_lost"
    else:
        setattr(tally, kind, getattr(tally, kind) + 1)
    record = {"notification": kind, "id": outgoing.id, "message_id": outgoing.message_id}
    log.info(
        json.dumps({**record, "attempt": outgoing.attempts, "error": values.get("last_error")})
    )


async def _release(
    database: Database, batch: list[Outgoing], reason: str | None, tally: Tally
) -> None:
    """Hand unsent messages back, without counting an attempt the server never saw."""
    for outgoing in batch:
        values: dict[str, Any] = {"status": Status.queued, "attempts": outgoing.attempts - 1}
        if reason:
            values["last_error"] = f"serveur SMTP injoignable : {reason}"[:1000]
        await _finish(database, outgoing, "released", values, tally)


async def deliver(
    database: Database, settings: Settings, batch: list[Outgoing], deadline: datetime
) -> Tally:
    """Send a claimed batch on one connection; a message is never started past the
    deadline, so that it always ends well within its lease."""
    tally = Tally()
    async with SmtpSender(settings) as sender:
        for index, outgoing in enumerate(batch):
            if utcnow() >= deadline:
                await _release(database, batch[index:], None, tally)
                break
            failure = await _attempt(settings, sender, outgoing)
            if isinstance(failure, ServerUnreachable):
                tally.unreachable = str(failure)
                await _release(database, batch[index:], str(failure), tally)
                break
            await _finish(database, outgoing, *_outcome(settings, outgoing, failure), tally)
    return tally


async def drain(
    database: Database, settings: Settings, batch_size: int = 50, stop: asyncio.Event | None = None
) -> Tally:
    """Deliver every message due when called, batch after batch; stop early when the SMTP
    server cannot be reached (the messages stay queued, no attempt counted)."""
    started, tally = utcnow(), Tally()
    margin = timedelta(seconds=settings.mail_lease_seconds - 2 * settings.smtp_timeout_seconds)
    while stop is None or not stop.is_set():
        deadline = utcnow() + margin
        batch = await claim(database, settings, started, batch_size)
        if not batch:
            break
        tally.add(await deliver(database, settings, batch, deadline))
        if tally.unreachable:
            break
    return tally


async def run(
    database: Database,
    settings: Settings,
    poll_seconds: float,
    batch_size: int,
    stop: asyncio.Event,
) -> None:
    """Drain, then wait, until ``stop`` is set; back off while the server or the database
    cannot be reached."""
    outages = 0
    while not stop.is_set():
        try:
            tally = await drain(database, settings, batch_size, stop)
            outages = outages + 1 if tally.unreachable else 0
        except (SQLAlchemyError, OSError):
            log.exception("the outbox cannot be read; retrying")
            outages += 1
        pause = poll_seconds
        if outages:
            pause = min(retry_delay(settings, outages).total_seconds(), OUTAGE_PAUSE_MAX_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
