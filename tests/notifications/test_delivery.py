"""The worker against a real SMTP server: delivered once, retried, dead, never lost."""

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from notifications import delivery, repository, service
from notifications.models import Notification, NotificationStatus
from notifications.schemas import Attachment
from tests.fixtures.smtp import SmtpServer
from tests.notifications.conftest import MailSettings, queue, reload
from voucher_service.core.clock import utcnow
from voucher_service.core.db import Database

pytestmark = pytest.mark.usefixtures("empty_outbox")

PDF = Attachment("cheque-MCD-7K3Q-9PXA.pdf", "application/pdf", b"%PDF-1.7\n% a cheque\n%%EOF\n")
TEMPLATE_SYNTAX = ("{{", "}}", "{%", "%}")


def address(label: str = "contact") -> str:
    return f"{label}+{uuid.uuid4().hex[:10]}@example.fr"


async def make_due(database: Database, notification_id: int | None) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Notification)
            .where(col(Notification.id) == notification_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


class TestDelivery:
    async def test_an_approval_arrives_once_with_its_cheque_and_link(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        recipient = address("elodie")
        queued = await queue(database, recipient, "application_approved", [PDF])
        tally = await delivery.drain(database, mail_settings())
        assert (tally.sent, tally.retried, tally.dead) == (1, 0, 0)
        [message] = smtp_server.received_by(recipient)
        assert message["Message-ID"] == queued.message_id
        assert message["Reply-To"] == "moncoachdigital@maregionsud.fr"
        assert "2\u202f000,00\u00a0€" in message["Subject"]
        text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
        assert text_part is not None and html_part is not None
        text, html = text_part.get_content(), html_part.get_content()
        assert "Bonjour Élodie Martin" in text and "Bonne nouvelle" in text
        assert "http://testserver/status/4f1c2b9e8d7a" in text
        assert 'href="http://testserver/status/4f1c2b9e8d7a"' in html and 'lang="fr"' in html
        assert not any(s in part for s in TEMPLATE_SYNTAX for part in (text, html))
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == PDF.filename
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content() == PDF.content
        stored = await reload(database, queued.id)
        assert stored.status is NotificationStatus.sent and stored.sent_at is not None
        assert stored.lease_token is None and stored.locked_until is None

    async def test_nothing_is_sent_twice(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        recipient = address()
        await queue(database, recipient)
        await delivery.drain(database, mail_settings())
        again = await delivery.drain(database, mail_settings())
        assert again.sent == 0 and len(smtp_server.received_by(recipient)) == 1

    async def test_a_template_gap_is_dead_at_send_time(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            queued = await service.enqueue(
                session, "application_rejected", address(), {"company_name": "Sans le reste"}
            )
        assert queued is not None
        assert (await delivery.drain(database, mail_settings())).dead == 1
        stored = await reload(database, queued.id)
        assert stored.status is NotificationStatus.dead
        assert stored.last_error is not None and "UndefinedError" in stored.last_error
        assert smtp_server.messages == []


class TestRefusals:
    async def test_a_permanent_refusal_is_dead_at_once_and_can_be_requeued(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        recipient = address()
        smtp_server.refuse(recipient, "550 5.1.1 Adresse inconnue")
        queued = await queue(database, recipient)
        assert (await delivery.drain(database, mail_settings())).dead == 1
        dead = await reload(database, queued.id)
        assert (dead.status, dead.attempts) == (NotificationStatus.dead, 1)
        assert dead.last_error == "550 5.1.1 Adresse inconnue"
        del smtp_server.mailbox.refusals[recipient]
        async with database.sessionmaker() as session, session.begin():
            await service.requeue(session, dead.id or 0)
        assert (await delivery.drain(database, mail_settings())).sent == 1
        [message] = smtp_server.received_by(recipient)
        assert message["Message-ID"] == queued.message_id

    async def test_a_temporary_refusal_retries_later_with_backoff(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        recipient, settings = address(), mail_settings(mail_retry_seconds=120)
        smtp_server.refuse(recipient, "451 4.7.1 Greylisted, try again later")
        queued = await queue(database, recipient)
        before = utcnow()
        assert (await delivery.drain(database, settings)).retried == 1
        waiting = await reload(database, queued.id)
        assert (waiting.status, waiting.attempts) == (NotificationStatus.queued, 1)
        assert waiting.last_error is not None and waiting.last_error.startswith("451")
        delay = waiting.next_attempt_at - before
        assert timedelta(seconds=60) <= delay <= timedelta(seconds=121)
        assert (await delivery.drain(database, settings)).retried == 0, "not due yet"
        del smtp_server.mailbox.refusals[recipient]
        await make_due(database, queued.id)
        assert (await delivery.drain(database, settings)).sent == 1
        assert len(smtp_server.received_by(recipient)) == 1

    async def test_the_last_attempt_makes_it_dead(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        recipient, settings = address(), mail_settings(mail_max_attempts=2)
        smtp_server.refuse(recipient, "452 4.2.2 Mailbox full")
        queued = await queue(database, recipient)
        assert (await delivery.drain(database, settings)).retried == 1
        await make_due(database, queued.id)
        assert (await delivery.drain(database, settings)).dead == 1
        dead = await reload(database, queued.id)
        assert (dead.status, dead.attempts) == (NotificationStatus.dead, 2)

    def test_backoff_grows_exponentially_with_jitter(self, mail_settings: MailSettings) -> None:
        settings = mail_settings(mail_retry_seconds=60, mail_retry_max_seconds=600)
        for attempts, ceiling in ((1, 60), (2, 120), (3, 240), (5, 600), (40, 600)):
            delays = {delivery.retry_delay(settings, attempts).total_seconds() for _ in range(20)}
            assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
            assert len(delays) > 1


class TestOutages:
    async def test_server_down_for_a_while_then_back_loses_and_doubles_nothing(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        settings = mail_settings(mail_retry_seconds=0.05, mail_retry_max_seconds=0.2)
        smtp_server.stop()
        queued = [await queue(database, address()) for _ in range(30)]
        for _ in range(3):  # three rounds against the closed port
            tally = await delivery.drain(database, settings, batch_size=7)
            assert tally.unreachable is not None
            assert (tally.sent, tally.retried, tally.dead, tally.released) == (0, 0, 0, 7)
        waiting = [await reload(database, notification.id) for notification in queued]
        assert {(n.status, n.attempts) for n in waiting} == {(NotificationStatus.queued, 0)}, (
            "an unreachable server costs no attempt and loses nothing"
        )
        assert "injoignable" in (waiting[0].last_error or "")
        await forget_errors(database)
        stop = asyncio.Event()
        worker = asyncio.create_task(delivery.run(database, settings, 0.05, 7, stop))
        try:
            await wait_for_release(database, queued[0].id)  # the worker met the outage too
            smtp_server.start()
            await wait_until_sent(database, queued)
        finally:
            stop.set()
            await worker
        # The worker has stopped: what the server holds now is all it will ever get.
        received = Counter(message["Message-ID"] for message in smtp_server.messages)
        assert received == Counter(notification.message_id for notification in queued)

    async def test_a_crashed_workers_lease_expires_and_the_same_message_is_sent(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        settings = mail_settings(mail_lease_seconds=60)
        queued = await queue(database, address())
        [crashed] = await delivery.claim(database, settings, utcnow(), 10)
        assert (await delivery.drain(database, settings)).sent == 0, "still leased"
        assert smtp_server.messages == []
        await expire_leases(database)
        [retaken] = await delivery.claim(database, settings, utcnow(), 10)
        assert (retaken.id, retaken.message_id) == (crashed.id, crashed.message_id)
        async with database.sessionmaker() as session, session.begin():
            late = {"status": NotificationStatus.dead}
            assert not await repository.finish_attempt(
                session, crashed.id, crashed.lease_token, late
            ), "the crashed worker's lease is gone"
        deadline = utcnow() + timedelta(minutes=1)
        assert (await delivery.deliver(database, settings, [retaken], deadline)).sent == 1
        [message] = smtp_server.messages
        assert message["Message-ID"] == queued.message_id
        assert (await reload(database, queued.id)).status is NotificationStatus.sent


class TestConcurrentWorkers:
    async def test_two_workers_deliver_500_messages_exactly_once(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        settings = mail_settings()
        await queue_bulk(database, 500)
        workers = [Database.from_settings(settings) for _ in range(2)]
        try:
            tallies = await asyncio.gather(
                *(delivery.drain(worker, settings, batch_size=20) for worker in workers)
            )
        finally:
            for worker in workers:
                await worker.engine.dispose()
        assert sum(tally.sent for tally in tallies) == 500
        received = Counter(message["To"] for message in smtp_server.messages)
        assert len(received) == 500 and set(received.values()) == {1}

    async def test_what_a_worker_holds_is_left_to_it_and_the_other_sends_the_rest(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        settings = mail_settings()
        await queue_bulk(database, 60)
        held = await delivery.claim(database, settings, utcnow(), 20)
        other = await delivery.drain(database, settings, batch_size=20)
        assert (other.sent, other.released) == (40, 0)
        assert not {m["Message-ID"] for m in smtp_server.messages} & {o.message_id for o in held}
        mine = await delivery.deliver(database, settings, held, utcnow() + timedelta(minutes=1))
        assert mine.sent == 20
        received = Counter(message["To"] for message in smtp_server.messages)
        assert len(received) == 60 and set(received.values()) == {1}

    # PostgreSQL only: SQLite has one writer at a time, so a second claim waits by design.
    @pytest.mark.parametrize("database", ["postgresql"], indirect=True)
    async def test_a_claim_in_progress_neither_blocks_nor_is_shared(
        self, database: Database, smtp_server: SmtpServer, mail_settings: MailSettings
    ) -> None:
        """PostgreSQL: the rows a worker is claiming, still uncommitted, are skipped by the
        other worker, which does not wait for them."""
        settings = mail_settings()
        await queue_bulk(database, 60)
        lease_until = utcnow() + timedelta(minutes=1)
        async with database.sessionmaker() as holder:
            locked = await repository.claim_due(holder, utcnow(), lease_until, 20)
            async with asyncio.timeout(30):
                other = await delivery.drain(database, settings, batch_size=20)
            assert other.sent == 40
            sent = {message["Message-ID"] for message in smtp_server.messages}
            assert not sent & {row.message_id for row in locked}
            await holder.rollback()  # that worker dies before committing its claim
        assert (await delivery.drain(database, settings)).sent == 20
        received = Counter(message["To"] for message in smtp_server.messages)
        assert len(received) == 60 and set(received.values()) == {1}


async def queue_bulk(database: Database, count: int) -> None:
    async with database.sessionmaker() as session, session.begin():
        for index in range(count):
            await service.enqueue(
                session,
                "application_received",
                f"bulk{index}@example.fr",
                {
                    "programme_name": "P",
                    "programme_contact": "p@example.fr",
                    "company_name": "C",
                    "contact_name": "N",
                    "status_url": "http://x/s",
                    "reference": f"R{index}",
                },
            )


async def forget_errors(database: Database) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(update(Notification).values(last_error=None))


async def expire_leases(database: Database) -> None:
    """What the clock does to a lease once its time is up."""
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Notification)
            .where(col(Notification.status) == NotificationStatus.sending)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )


async def wait_until_sent(database: Database, queued: list[Notification]) -> None:
    ids = [notification.id for notification in queued]
    unsent = (
        select(func.count())
        .select_from(Notification)
        .where(col(Notification.id).in_(ids), col(Notification.status) != NotificationStatus.sent)
    )
    async with asyncio.timeout(30):
        while True:
            async with database.sessionmaker() as session:
                if (await session.execute(unsent)).scalar_one() == 0:
                    return
            await asyncio.sleep(0.05)


async def wait_for_release(database: Database, notification_id: int | None) -> Notification:
    """The message back in the queue after a failed connection (not caught mid-claim)."""
    async with asyncio.timeout(15):
        while True:
            notification = await reload(database, notification_id)
            error = notification.last_error or ""
            if notification.status is NotificationStatus.queued and "injoignable" in error:
                return notification
            await asyncio.sleep(0.02)
