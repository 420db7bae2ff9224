"""Enqueueing writes the outbox row in the caller's transaction."""

import asyncio
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import repository, service
from notifications.errors import UnknownEvent
from notifications.models import Notification, NotificationStatus
from notifications.schemas import Attachment
from tests.notifications.samples import sample
from voucher_service.core.db import Database

PDF = Attachment("cheque-MCD-7K3Q-9PXA.pdf", "application/pdf", b"%PDF-1.7\n...")


def unique_recipient() -> str:
    return f"elodie+{uuid.uuid4().hex[:10]}@example.fr"


async def count_for(session: AsyncSession, recipient: str) -> int:
    query = (
        select(func.count())
        .select_from(Notification)
        .where(col(Notification.recipient) == recipient)
    )
    return int((await session.execute(query)).scalar_one())


class TestEnqueue:
    async def test_writes_the_row_and_its_attachments(self, session: AsyncSession) -> None:
        data = sample("application_approved")
        notification = await service.enqueue(
            session, "application_approved", " elodie@example.fr ", data, [PDF]
        )
        assert notification is not None and notification.id is not None
        assert notification.status is NotificationStatus.queued
        assert notification.recipient == "elodie@example.fr"
        assert notification.message_id.startswith("<") and notification.message_id.endswith(
            "@moncoachdigital.maregionsud.fr>"
        )
        assert notification.data["valid_until"] == {"$date": "2027-09-30"}
        assert await repository.attachments_of(session, [notification.id]) == {
            notification.id: [PDF]
        }

    async def test_each_message_has_its_own_message_id(self, session: AsyncSession) -> None:
        data = sample("application_received")
        first = await service.enqueue(session, "application_received", "a@example.fr", data)
        second = await service.enqueue(session, "application_received", "a@example.fr", data)
        assert first is not None and second is not None
        assert first.message_id != second.message_id

    async def test_an_event_without_template_is_refused(self, session: AsyncSession) -> None:
        with pytest.raises(UnknownEvent):
            await service.enqueue(session, "cheque_eaten_by_dog", "a@example.fr", {})

    async def test_data_json_cannot_hold_is_refused_at_once(self, session: AsyncSession) -> None:
        with pytest.raises(TypeError):
            await service.enqueue(session, "application_received", "a@example.fr", {"x": {1, 2}})


class TestDedupe:
    async def test_the_second_enqueue_with_the_same_key_is_a_no_op(
        self, session: AsyncSession
    ) -> None:
        recipient, key = unique_recipient(), f"voucher_expiring:{uuid.uuid4().hex}"
        data = sample("voucher_expiring")
        first = await service.enqueue(session, "voucher_expiring", recipient, data, dedupe_key=key)
        again = await service.enqueue(session, "voucher_expiring", recipient, data, dedupe_key=key)
        assert first is not None and again is None
        assert await count_for(session, recipient) == 1

    async def test_concurrent_transactions_queue_it_once(self, database: Database) -> None:
        recipient, key = unique_recipient(), f"voucher_expiring:{uuid.uuid4().hex}"

        async def sweep() -> Notification | None:
            async with database.sessionmaker() as session, session.begin():
                return await service.enqueue(
                    session,
                    "voucher_expiring",
                    recipient,
                    sample("voucher_expiring"),
                    dedupe_key=key,
                )

        results = await asyncio.gather(sweep(), sweep(), sweep())
        assert sum(result is not None for result in results) == 1
        async with database.sessionmaker() as session:
            assert await count_for(session, recipient) == 1
            await session.execute(
                delete(Notification).where(col(Notification.recipient) == recipient)
            )
            await session.commit()


class TestTransaction:
    async def test_a_rolled_back_change_leaves_nothing_in_the_outbox(
        self, database: Database
    ) -> None:
        recipient = unique_recipient()
        async with database.sessionmaker() as session:
            await service.enqueue(
                session, "application_approved", recipient, sample("application_approved"), [PDF]
            )
            assert await count_for(session, recipient) == 1
            await session.rollback()
        async with database.sessionmaker() as session:
            assert await count_for(session, recipient) == 0
