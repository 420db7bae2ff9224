"""The e-mails people receive when something happens to their application, end to end:
a decision committed in the database, the worker, a real SMTP server."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage, MIMEPart

from sqlalchemy import update
from sqlmodel import col

from notifications import delivery
from tests.fixtures.applications import committed_application, committed_programme
from tests.fixtures.smtp import SmtpServer
from tests.notifications.conftest import MailSettings
from voucher_service.applications import links, messages
from voucher_service.applications import service as applications
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.core.clock import paris_today
from voucher_service.core.db import Database
from voucher_service.vouchers.models import Voucher


def parts(message: EmailMessage) -> tuple[str, str, list[MIMEPart]]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content(), list(message.iter_attachments())


@asynccontextmanager
async def pending_application(
    database: Database, status: ApplicationStatus, name: str
) -> AsyncIterator[Application]:
    """A committed application of an open programme, with an e-mail address of its own."""
    email = f"{name}.{uuid.uuid4().hex[:8]}@example.fr"
    async with committed_programme(database) as programme:
        application = await committed_application(database, programme, status, email=email)
        assert application.id is not None
        yield application


class TestApplicationMail:
    async def test_approval_sends_one_mail_with_the_cheque(
        self,
        database: Database,
        smtp_server: SmtpServer,
        mail_settings: MailSettings,
        empty_outbox: None,
    ) -> None:
        settings = mail_settings()
        async with pending_application(
            database, ApplicationStatus.eligible, "elodie"
        ) as application:
            email = application.email
            assert email is not None
            assert application.id is not None
            async with database.sessionmaker() as session, session.begin():
                await applications.approve(session, application.id, settings)
            await delivery.drain(database, settings)
        [message] = smtp_server.received_by(email)
        text, html, attachments = parts(message)
        assert "Bonne nouvelle" in text and "acceptée" in html
        assert links.status_url(settings, application) in text
        assert "{{" not in text + html and "{%" not in text + html
        [pdf] = attachments
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_content().startswith(b"%PDF")

    async def test_rejection_says_why(
        self,
        database: Database,
        smtp_server: SmtpServer,
        mail_settings: MailSettings,
        empty_outbox: None,
    ) -> None:
        settings = mail_settings()
        async with pending_application(
            database, ApplicationStatus.needs_review, "karim"
        ) as application:
            email = application.email
            assert email is not None
            assert application.id is not None
            async with database.sessionmaker() as session, session.begin():
                await applications.reject(
                    session, application.id, "Activité hors du champ du dispositif.", settings
                )
            await delivery.drain(database, settings)
        [message] = smtp_server.received_by(email)
        text, _, _ = parts(message)
        assert "Activité hors du champ du dispositif." in text

    async def test_a_rolled_back_approval_sends_nothing(
        self,
        database: Database,
        smtp_server: SmtpServer,
        mail_settings: MailSettings,
        empty_outbox: None,
    ) -> None:
        settings = mail_settings()
        async with pending_application(
            database, ApplicationStatus.eligible, "rollback"
        ) as application:
            email = application.email
            assert email is not None
            assert application.id is not None
            async with database.sessionmaker() as session:
                await applications.approve(session, application.id, settings)
                await session.rollback()
            await delivery.drain(database, settings)
        assert smtp_server.received_by(email) == []


class TestExpiryReminder:
    async def test_sent_once_however_often_the_sweep_runs(
        self,
        database: Database,
        smtp_server: SmtpServer,
        mail_settings: MailSettings,
        empty_outbox: None,
    ) -> None:
        settings = mail_settings()
        async with pending_application(
            database, ApplicationStatus.eligible, "rappel"
        ) as application:
            email = application.email
            assert email is not None
            assert application.id is not None
            async with database.sessionmaker() as session, session.begin():
                await applications.approve(session, application.id, settings)
                await session.execute(
                    update(Voucher)
                    .where(col(Voucher.application_id) == application.id)
                    .values(valid_until=paris_today() + timedelta(days=3))
                )
            await delivery.drain(database, settings)
            for _ in range(3):
                async with database.sessionmaker() as session, session.begin():
                    await messages.remind_expiring(session, paris_today(), settings)
                await delivery.drain(database, settings)
        reminders = [m for m in smtp_server.received_by(email) if "expire" in m["Subject"]]
        assert len(reminders) == 1
        reminder = reminders[0].get_body(("plain",))
        assert reminder is not None
        assert "Petit rappel" in reminder.get_content()


class TestResendCheque:
    async def test_the_admin_resends_the_cheque_by_mail(
        self,
        database: Database,
        smtp_server: SmtpServer,
        mail_settings: MailSettings,
        empty_outbox: None,
    ) -> None:
        settings = mail_settings()
        async with pending_application(
            database, ApplicationStatus.eligible, "renvoi"
        ) as application:
            email = application.email
            assert email is not None
            assert application.id is not None
            async with database.sessionmaker() as session, session.begin():
                await applications.approve(session, application.id, settings)
            async with database.sessionmaker() as session, session.begin():
                await applications.resend_cheque(session, application.id, settings)
            await delivery.drain(database, settings)
        mails = smtp_server.received_by(email)
        assert len(mails) == 2
        assert all(len(list(m.iter_attachments())) == 1 for m in mails)
