"""The administrators' e-mail page: who may see it, and requeueing a dead message."""

import uuid
from urllib.parse import quote

import pytest
from httpx import AsyncClient
from playwright.async_api import Page
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import rendering, service
from notifications.models import Notification, NotificationStatus
from tests.fixtures.factories import PASSWORD, create_user, session_cookie
from tests.fixtures.servers import LiveServer
from tests.notifications.samples import sample
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.web.notifications_admin import EVENT_LABELS

PAGE = "/admin/notifications"
HTML = {"accept": "text/html"}


async def dead_message(session: AsyncSession) -> Notification:
    recipient = f"page+{uuid.uuid4().hex[:10]}@example.fr"
    event = "application_approved"
    notification = await service.enqueue(session, event, recipient, sample(event))
    assert notification is not None
    notification.status, notification.attempts = NotificationStatus.dead, 1
    notification.last_error = "550 5.1.1 Adresse inconnue"
    await session.flush()
    return notification


async def log_in(
    client: AsyncClient, session: AsyncSession, settings: Settings, role: Role
) -> None:
    user = await create_user(session, role)
    client.cookies.set(SESSION_COOKIE, session_cookie(settings, user))


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def test_every_event_has_a_french_label() -> None:
    assert set(EVENT_LABELS) == rendering.EVENTS


class TestAccess:
    async def test_anonymous_visitors_are_sent_to_the_login(self, client: AsyncClient) -> None:
        response = await client.get(PAGE, headers=HTML)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={PAGE}"

    async def test_experts_are_refused(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        await log_in(client, session, settings, Role.expert)
        response = await client.get(PAGE, headers=HTML)
        assert response.status_code == 403 and "Accès refusé" in response.text


class TestRequeueForm:
    async def test_admin_sees_the_dead_message_and_requeues_it(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        dead = await dead_message(session)
        await log_in(client, session, settings, Role.admin)
        listing = await client.get(PAGE, params={"status": "dead"}, headers=HTML)
        assert listing.status_code == 200
        assert dead.recipient in listing.text and "550 5.1.1 Adresse inconnue" in listing.text
        assert "Demande acceptée, chèque joint" in listing.text
        assert '<a href="/admin/notifications">Courriels</a>' in listing.text
        assert f'action="/admin/notifications/{dead.id}/requeue"' in listing.text
        response = await client.post(
            f"{PAGE}/{dead.id}/requeue", data={"csrf_token": csrf_of(listing.text)}, headers=HTML
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"{PAGE}?status=dead&requeued={dead.id}"
        await session.refresh(dead)
        assert dead.status is NotificationStatus.queued
        confirmation = await client.get(response.headers["location"], headers=HTML)
        assert f"Le message n°{dead.id} est remis en file" in confirmation.text

    async def test_the_form_needs_its_csrf_token(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        dead = await dead_message(session)
        await log_in(client, session, settings, Role.admin)
        await client.get(PAGE, headers=HTML)
        response = await client.post(f"{PAGE}/{dead.id}/requeue", data={}, headers=HTML)
        assert response.status_code == 403 and "Le formulaire a expiré" in response.text


@pytest.mark.browser
class TestInTheBrowser:
    async def test_requeue_with_the_button(
        self, page: Page, live_server: LiveServer, database: Database
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            admin = await create_user(session, Role.admin)
            dead = await dead_message(session)
        try:
            await page.goto(f"{live_server.url}/login?next={quote(PAGE + '?status=dead')}")
            await page.get_by_label("Adresse e-mail").fill(admin.email)
            await page.get_by_label("Mot de passe").fill(PASSWORD)
            await page.get_by_role("button", name="Se connecter").click()
            await page.get_by_role("heading", name="Courriels envoyés par le service").wait_for()
            await page.get_by_role(
                "button", name=f"Remettre en file le message n°{dead.id}"
            ).click()
            status = page.get_by_role("status")
            await status.wait_for()
            assert f"Le message n°{dead.id} est remis en file" in await status.inner_text()
        finally:
            async with database.sessionmaker() as session, session.begin():
                await session.execute(delete(Notification).where(col(Notification.id) == dead.id))
