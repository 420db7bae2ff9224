"""The administrators' e-mail page: who may see it, and requeueing a dead message."""

import uuid
from html import escape
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from playwright.async_api import Page
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import rendering, repository, service
from notifications.models import Notification, NotificationStatus
from notifications.schemas import Attachment
from tests.fixtures.factories import PASSWORD, create_user, session_cookie
from tests.fixtures.servers import LiveServer
from tests.notifications.samples import sample
from tests.web.test_accessibility import audit
from tests.web.test_accessibility import log_in as log_in_page
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

    async def test_read_a_message_on_a_phone(
        self, audited_page: Page, live_server: LiveServer, database: Database
    ) -> None:
        page = audited_page
        async with database.sessionmaker() as session, session.begin():
            admin = await create_user(session, Role.admin)
            message = await queued(session, "application_approved", [CHEQUE_PDF])
        subject = rendering.render(message.event, sample(message.event)).subject
        try:
            await page.set_viewport_size({"width": 390, "height": 844})
            await log_in_page(page, live_server.url, admin.email)
            await page.goto(f"{live_server.url}{PAGE}")
            await page.get_by_role("link", name=f"(message n°{message.id})").click()
            await page.get_by_role("heading", name=subject).wait_for()
            assert await audit(page) == []
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            preview = page.frame_locator(
                f"iframe[title='Aperçu du message n°{message.id} mis en forme']"
            )
            await preview.get_by_text(sample(message.event)["company_name"]).first.wait_for()
            async with page.expect_download() as download:
                await page.get_by_role("link", name=CHEQUE_PDF.filename).click()
            assert (await download.value).suggested_filename == CHEQUE_PDF.filename
        finally:
            async with database.sessionmaker() as session, session.begin():
                await session.execute(
                    delete(Notification).where(col(Notification.id) == message.id)
                )


CHEQUE_PDF = Attachment(
    "cheque-MCD-7K3Q-9PXA.pdf", "application/pdf", b"%PDF-1.7\n% cheque\n%%EOF\n"
)


async def queued(session: AsyncSession, event: str, attachments: list[Attachment]) -> Notification:
    recipient = f"lecture+{uuid.uuid4().hex[:10]}@example.fr"
    notification = await service.enqueue(session, event, recipient, sample(event), attachments)
    assert notification is not None
    return notification


class TestReadingAMessage:
    """Staff read each message as its recipient will, with its attachments, even when no
    SMTP server sends them (the demo): what the page promised is what was queued."""

    async def test_subject_text_links_preview_and_attachment(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        message = await queued(session, "application_approved", [CHEQUE_PDF])
        expected = rendering.render(message.event, sample(message.event))
        await log_in(client, session, settings, Role.admin)
        listing = await client.get(PAGE, headers=HTML)
        assert f'href="{PAGE}/{message.id}"' in listing.text
        page = await client.get(f"{PAGE}/{message.id}", headers=HTML)
        assert page.status_code == 200
        assert f"<h1>{escape(expected.subject)}</h1>" in page.text
        assert message.recipient in page.text
        status_url = sample(message.event)["status_url"]
        assert f'<a href="{status_url}"' in page.text  # the text's links can be followed
        assert f'src="{PAGE}/{message.id}/html" sandbox' in page.text

        preview = await client.get(f"{PAGE}/{message.id}/html", headers=HTML)
        assert preview.text == expected.html
        policy = preview.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy and "script" not in policy

        [file] = await repository.attachment_rows(session, message.id or 0)
        download = await client.get(f"{PAGE}/{message.id}/attachments/{file.id}", headers=HTML)
        assert download.status_code == 200 and download.content == CHEQUE_PDF.content
        assert download.headers["content-type"] == "application/pdf"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert CHEQUE_PDF.filename in page.text

    @pytest.mark.parametrize(
        ("event", "link"),
        [
            ("password_reset", "reset_url"),
            ("account_created", "reset_url"),
            ("expert_invitation", "invitation_url"),
        ],
    )
    async def test_a_link_to_choose_a_password_is_masked(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        event: str,
        link: str,
    ) -> None:
        message = await queued(session, event, [])
        await log_in(client, session, settings, Role.admin)
        page = await client.get(f"{PAGE}/{message.id}", headers=HTML)
        preview = await client.get(f"{PAGE}/{message.id}/html", headers=HTML)
        secret = sample(event)[link]
        for answer in (page, preview):
            assert answer.status_code == 200
            assert secret not in answer.text and "lien personnel masqué" in answer.text

    async def test_only_administrators_read_and_unknown_ones_are_404(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        message = await queued(session, "application_approved", [CHEQUE_PDF])
        [file] = await repository.attachment_rows(session, message.id or 0)
        paths = (
            f"{PAGE}/{message.id}",
            f"{PAGE}/{message.id}/html",
            f"{PAGE}/{message.id}/attachments/{file.id}",
        )
        await log_in(client, session, settings, Role.accountant)
        for path in paths:
            assert (await client.get(path, headers=HTML)).status_code == 403, path
        await log_in(client, session, settings, Role.admin)
        missing = await client.get(f"{PAGE}/2147483000", headers=HTML)
        assert missing.status_code == 404 and "Aucun message n°2147483000" in missing.text
        wrong = await client.get(f"{PAGE}/{message.id}/attachments/{(file.id or 0) + 1}")
        assert wrong.status_code == 404

    async def test_the_list_says_when_no_smtp_server_sends(
        self, app: FastAPI, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        await log_in(client, session, settings, Role.admin)
        banner = "les messages restent en file"
        app.state.settings = settings.model_copy(update={"smtp_host": None})
        assert banner in (await client.get(PAGE, headers=HTML)).text
        app.state.settings = settings.model_copy(update={"smtp_host": "127.0.0.1"})
        assert banner not in (await client.get(PAGE, headers=HTML)).text
