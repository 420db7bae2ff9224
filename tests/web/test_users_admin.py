"""The administrators' account pages in Chromium: open an account (its owner chooses the
password from the link that reaches the SMTP server), change its role and deactivate it
(its open session stops working at once), send a reset link (refused while deactivated,
then delivered); every page accessible and 390 px wide. Other roles get the French 403."""

import re
import uuid

import pytest
from httpx import AsyncClient
from playwright.async_api import Browser, Page, ViewportSize
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import delivery
from tests.fixtures.audit import events_of
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import create_user, session_cookie
from tests.fixtures.servers import LiveServer
from tests.fixtures.smtp import SmtpServer
from tests.web.test_password_reset_pages import accessible
from tests.web.test_programmes_admin import admin_opens
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role, User
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

HTML = {"accept": "text/html"}
CHOSEN = "le mot de passe de la comptable"


class TestAccess:
    @pytest.mark.parametrize("role", [Role.accountant, Role.expert])
    async def test_other_roles_get_the_french_refusal(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, role: Role
    ) -> None:
        user = await create_user(session, role)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, user))
        for path in ("/admin/users", f"/admin/users/{user.id}"):
            response = await client.get(path, headers=HTML)
            assert response.status_code == 403, path
            assert "Accès refusé" in response.text
            assert "Administrateur ou administratrice" in response.text

    async def test_roles_are_shown_in_french(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        admin = await create_user(session, Role.admin)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, admin))
        listing = (await client.get("/admin/users", headers=HTML)).text
        for label in ("Administrateur ou administratrice", "Comptable", "Expert ou experte"):
            assert label in listing
        assert ">admin<" not in listing and ">accountant<" not in listing


async def mailed_link(database: Database, smtp: SmtpServer, email: str, subject: str) -> str:
    """Deliver the queue to the SMTP server; the link of the latest message to ``email``."""
    url = database.engine.url.render_as_string(hide_password=False)
    smtp_settings = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_tls": "none"}
    settings = make_settings(url, **smtp_settings, smtp_timeout_seconds=5, mail_lease_seconds=60)
    await delivery.drain(database, settings)
    message = smtp.received_by(email)[-1]
    assert subject in message["Subject"]
    text = message.get_body(("plain",))
    assert text is not None
    found = re.search(r"https?://\S+/password-reset/\S+", text.get_content())
    assert found is not None
    return found.group(0)


async def user_named(database: Database, email: str) -> User:
    async with database.sessionmaker() as session:
        return (await session.execute(select(User).where(col(User.email) == email))).scalar_one()


async def sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe", exact=True).fill(password)
    await page.get_by_role("button", name="Se connecter").click()


async def status_text(page: Page) -> str:
    return await page.get_by_role("status").inner_text()


async def is_signed_out(page: Page, base: str) -> bool:
    await page.goto(f"{base}/account/2fa")
    return "/login" in page.url


@pytest.mark.browser
class TestInTheBrowser:
    async def test_open_change_deactivate_and_reset(
        self,
        audited_page: Page,
        browser: Browser,
        live_server: LiveServer,
        database: Database,
        smtp_server: SmtpServer,
    ) -> None:
        page, base = audited_page, live_server.url
        admin = await admin_opens(page, base, database, "Comptes")

        await page.get_by_label("Adresse e-mail").fill("pas une adresse")
        await page.get_by_label("Rôle").select_option(label="Comptable")
        await page.get_by_role("button", name="Ouvrir le compte").click()
        field = page.get_by_label("Adresse e-mail")
        assert await field.get_attribute("aria-invalid") == "true"
        assert await field.input_value() == "pas une adresse"
        await accessible(page)
        email = f"marie-christine.delacroix-{uuid.uuid4().hex}@comptabilite.maregionsud.fr"
        await field.fill(email)
        await page.get_by_role("button", name="Ouvrir le compte").click()
        assert "Le compte est ouvert" in await status_text(page)
        await accessible(page)
        account_page = page.url

        link = await mailed_link(database, smtp_server, email, "Votre compte")
        phone = ViewportSize(width=390, height=844)
        owner_context = await browser.new_context(locale="fr-FR", viewport=phone)
        owner = await owner_context.new_page()
        try:
            await owner.goto(link)
            await owner.get_by_label("Mot de passe", exact=True).fill(CHOSEN)
            await owner.get_by_label("Confirmez le mot de passe").fill(CHOSEN)
            await owner.get_by_role("button", name="Enregistrer le mot de passe").click()
            await sign_in(owner, base, email, CHOSEN)
            await owner.get_by_role("button", name="Se déconnecter").wait_for()
            assert not await is_signed_out(owner, base)

            await page.get_by_label("Nouveau rôle").select_option(label="Expert ou experte")
            await page.get_by_role("button", name="Changer le rôle").click()
            assert "Le rôle est changé" in await status_text(page)
            assert await is_signed_out(owner, base)
            await sign_in(owner, base, email, CHOSEN)
            await owner.get_by_role("button", name="Se déconnecter").wait_for()

            await page.get_by_role("button", name="Désactiver le compte").click()
            assert "Le compte est désactivé" in await status_text(page)
            await accessible(page)
            assert await is_signed_out(owner, base)
            await sign_in(owner, base, email, CHOSEN)
            assert "incorrect" in await owner.get_by_role("alert").inner_text()
        finally:
            await owner_context.close()

        await page.get_by_role("button", name="Envoyer un lien de réinitialisation").click()
        assert "Réactivez d'abord le compte" in await page.get_by_role("alert").inner_text()
        await accessible(page)
        await page.get_by_role("button", name="Réactiver le compte").click()
        assert "Le compte est réactivé" in await status_text(page)
        await page.get_by_role("button", name="Envoyer un lien de réinitialisation").click()
        assert "Un lien pour choisir un nouveau mot de passe" in await status_text(page)
        assert page.url.startswith(account_page.split("?")[0])
        assert "/password-reset/" in await mailed_link(
            database, smtp_server, email, "Réinitialisation de votre mot de passe"
        )

        user = await user_named(database, email)
        assert user.role is Role.expert and user.is_active
        async with database.sessionmaker() as session:
            events = await events_of(session, "user", user.id)
        actions = [e.action for e in events]
        assert actions == [
            "user.created",
            "user.password_changed",
            "user.sessions_ended",
            "user.password_reset",
            "user.role_changed",
            "user.sessions_ended",
            "user.deactivated",
            "user.sessions_ended",
            "user.activated",
            "user.reset_link_sent",
        ]
        role_changed = events[actions.index("user.role_changed")]
        assert (role_changed.before, role_changed.after) == (
            {"role": "accountant"},
            {"role": "expert"},
        )
        assert events[-1].after == {"first_password": False}
        admin_actions = {"user.role_changed", "user.deactivated", "user.activated"}
        assert {e.actor_id for e in events if e.action in admin_actions} == {admin.id}
