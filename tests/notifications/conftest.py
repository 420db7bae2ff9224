"""Worker tests run on committed data: they seed through their own sessions and leave the
outbox empty for the next test."""

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlmodel import col

from notifications import service
from notifications.models import Notification
from notifications.schemas import Attachment
from tests.fixtures.databases import make_settings
from tests.fixtures.smtp import SmtpServer
from tests.notifications.samples import sample
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

MailSettings = Callable[..., Settings]


@pytest.fixture
async def empty_outbox(database: Database) -> AsyncIterator[None]:
    async def clear() -> None:
        async with database.sessionmaker() as session, session.begin():
            await session.execute(delete(Notification))

    await clear()
    yield
    await clear()


@pytest.fixture
def mail_settings(database: Database, smtp_server: SmtpServer) -> MailSettings:
    """Settings that point at the test SMTP server; overrides for the retry knobs."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "smtp_tls": "none",
            "smtp_timeout_seconds": 5,
            "mail_lease_seconds": 60,
            **overrides,
        }
        return make_settings(database.engine.url.render_as_string(hide_password=False), **values)

    return make


async def queue(
    database: Database,
    recipient: str,
    event: str = "application_received",
    attachments: Sequence[Attachment] = (),
    **data: Any,
) -> Notification:
    """Enqueue and commit, as a domain's request would."""
    async with database.sessionmaker() as session, session.begin():
        notification = await service.enqueue(
            session, event, recipient, sample(event, **data), attachments
        )
    assert notification is not None
    return notification


async def reload(database: Database, notification_id: int | None) -> Notification:
    async with database.sessionmaker() as session:
        query = select(Notification).where(col(Notification.id) == notification_id)
        return (await session.execute(query)).scalar_one()
