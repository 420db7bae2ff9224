"""Staff log in through the page in a real browser; forms carry a CSRF token."""

import pytest
from httpx import AsyncClient
from playwright.async_api import Browser, Page

from tests.fixtures.factories import PASSWORD, create_user
from tests.fixtures.servers import LiveServer
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import LoginFailure, Role
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

pytestmark = pytest.mark.browser


async def committed_user(database: Database, role: Role) -> str:
    async with database.sessionmaker() as session, session.begin():
        return (await create_user(session, role)).email


class TestLoginPage:
    async def test_wrong_password_then_right(
        self, page: Page, live_server: LiveServer, database: Database
    ) -> None:
        email = await committed_user(database, Role.accountant)
        await page.goto(f"{live_server.url}/login")
        assert await page.get_attribute("html", "lang") == "fr"
        await page.get_by_label("Adresse e-mail").fill(email)
        await page.get_by_label("Mot de passe").fill("not the password")
        await page.get_by_role("button", name="Se connecter").click()
        await page.get_by_role("alert").wait_for()
        assert "incorrect" in (await page.get_by_role("alert").inner_text())
        assert await page.get_by_label("Adresse e-mail").input_value() == email
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await page.get_by_role("button", name="Se déconnecter").wait_for()
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["mcd_session"]["httpOnly"]
        assert cookies["mcd_session"]["sameSite"] == "Lax"

    async def test_too_many_failures_are_told_beside_the_form(
        self, page: Page, live_server: LiveServer, database: Database, settings: Settings
    ) -> None:
        email = await committed_user(database, Role.accountant)
        async with database.sessionmaker() as session, session.begin():
            session.add_all(
                LoginFailure(email=email, address="127.0.0.1")
                for _ in range(settings.login_max_failures)
            )
        await page.goto(f"{live_server.url}/login")
        await page.get_by_label("Adresse e-mail").fill(email)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        async with page.expect_response(f"{live_server.url}/login") as answer:
            await page.get_by_role("button", name="Se connecter").click()
        response = await answer.value
        assert response.status == 429
        assert 0 < int(await response.header_value("retry-after") or 0) <= 60
        alert = await page.get_by_role("alert").inner_text()
        assert "Trop de tentatives de connexion échouées. Réessayez dans" in alert
        assert await page.get_by_label("Adresse e-mail").input_value() == email

    async def test_a_copy_of_the_cookie_is_sent_to_login_after_logout(
        self, page: Page, browser: Browser, live_server: LiveServer, database: Database
    ) -> None:
        email = await committed_user(database, Role.accountant)
        await page.goto(f"{live_server.url}/login")
        await page.get_by_label("Adresse e-mail").fill(email)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        logout = page.get_by_role("button", name="Se déconnecter")
        await logout.wait_for()
        cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
        await logout.click()
        await page.get_by_role("link", name="Espace professionnel").wait_for()
        copy = await browser.new_context(locale="fr-FR")
        try:
            stolen = cookies[SESSION_COOKIE]
            await copy.add_cookies(
                [{"name": SESSION_COOKIE, "value": stolen, "url": live_server.url}]
            )
            replayed = await copy.new_page()
            await replayed.goto(f"{live_server.url}/accounting")
            assert replayed.url == f"{live_server.url}/login?next=/accounting"
            await replayed.get_by_label("Mot de passe").wait_for()
        finally:
            await copy.close()

    async def test_keyboard_reaches_the_form(self, page: Page, live_server: LiveServer) -> None:
        await page.goto(f"{live_server.url}/login")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Aller au contenu"


class TestCsrf:
    async def test_a_form_post_without_the_token_is_refused(self, client: AsyncClient) -> None:
        response = await client.post(
            "/login", data={"email": "a@b.fr", "password": "x"}, headers={"accept": "text/html"}
        )
        assert response.status_code == 403
        assert "Le formulaire a expiré" in response.text

    async def test_the_page_token_is_accepted(self, client: AsyncClient) -> None:
        form = await client.get("/login")
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = await client.post(
            "/login", data={"email": "a@b.fr", "password": "x", "csrf_token": token}
        )
        assert response.status_code == 401
        assert "incorrect" in response.text
