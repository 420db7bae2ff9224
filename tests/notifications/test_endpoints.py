"""Administrators list outgoing e-mail and requeue dead messages through the API."""

import uuid

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import service
from notifications.models import Notification, NotificationStatus
from tests.core.test_errors import assert_problem
from tests.fixtures.factories import HeadersFor
from tests.notifications.samples import sample
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role

URL = "/api/v1/notifications"


async def queued(session: AsyncSession, status: NotificationStatus) -> Notification:
    recipient = f"api+{uuid.uuid4().hex[:10]}@example.fr"
    event = "application_received"
    notification = await service.enqueue(session, event, recipient, sample(event))
    assert notification is not None
    notification.status = status
    notification.attempts = 1 if status is NotificationStatus.dead else 0
    notification.last_error = (
        "550 5.1.1 Adresse inconnue" if status is NotificationStatus.dead else None
    )
    await session.flush()
    return notification


class TestList:
    async def test_filters_by_status_newest_first(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        waiting = await queued(session, NotificationStatus.queued)
        older = await queued(session, NotificationStatus.dead)
        newer = await queued(session, NotificationStatus.dead)
        response = await client.get(
            URL, params={"status": "dead"}, headers=await headers_for(Role.admin)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        ids = [item["id"] for item in body["items"]]
        assert ids.index(newer.id) < ids.index(older.id) and waiting.id not in ids
        assert {item["status"] for item in body["items"]} == {"dead"}
        first = body["items"][0]
        assert first["message_id"] == newer.message_id
        assert first["last_error"] == "550 5.1.1 Adresse inconnue"
        assert "data" not in first

    async def test_pages(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        for _ in range(5):
            await queued(session, NotificationStatus.queued)
        headers = await headers_for(Role.admin)
        response = await client.get(URL, params={"per_page": 2, "page": 2}, headers=headers)
        body = response.json()
        assert (body["page"], body["per_page"], len(body["items"])) == (2, 2, 2)
        assert body["total"] >= 5

    async def test_an_unknown_status_is_422(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        response = await client.get(
            URL, params={"status": "lost"}, headers=await headers_for(Role.admin)
        )
        assert_problem(response, 422, "validation_error")


class TestRequeue:
    async def test_a_dead_message_goes_back_to_the_queue(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        dead = await queued(session, NotificationStatus.dead)
        response = await client.post(
            f"{URL}/{dead.id}/requeue", headers=await headers_for(Role.admin)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["attempts"]) == ("queued", 0)
        assert body["message_id"] == dead.message_id
        audit = await session.execute(
            select(AuditEvent).where(
                col(AuditEvent.action) == "notification.requeued",
                col(AuditEvent.entity_id) == str(dead.id),
            )
        )
        event = audit.scalars().all()[-1]
        assert event.before == {"status": "dead", "attempts": 1}
        assert event.actor_role == "admin"

    async def test_only_a_dead_message_can_be_requeued(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        sent = await queued(session, NotificationStatus.sent)
        response = await client.post(
            f"{URL}/{sent.id}/requeue", headers=await headers_for(Role.admin)
        )
        assert_problem(response, 409, "notification_not_dead")

    async def test_an_unknown_message_is_404(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        response = await client.post(
            f"{URL}/999999999/requeue", headers=await headers_for(Role.admin)
        )
        assert_problem(response, 404, "notification_not_found")


class TestAccess:
    async def test_without_a_token_is_401(self, client: AsyncClient) -> None:
        assert_problem(await client.get(URL), 401, "not_authenticated")
        assert_problem(await client.post(f"{URL}/1/requeue"), 401, "not_authenticated")

    async def test_other_roles_are_403(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        for role in (Role.accountant, Role.expert):
            # a refused request rolls back the test transaction, and its user with it
            listing = await client.get(URL, headers=await headers_for(role))
            assert_problem(listing, 403, "forbidden")
            requeue = await client.post(f"{URL}/1/requeue", headers=await headers_for(role))
            assert_problem(requeue, 403, "forbidden")
