"""The forgotten-password journey in Chromium, with the e-mail delivered by the worker to a
real SMTP server: the same answer for anyone, one use of the link, accessible pages."""

import re
import uuid

import pytest
from httpx import AsyncClient
from playwright.async_api import Page

from notifications import delivery
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import create_user
from tests.fixtures.servers import LiveServer
from tests.fixtures.smtp import SmtpServer
from tests.web.test_accessibility import audit
from voucher_service.core.auth.models import Role
from voucher_service.core.db import Database

HTML = {"accept": "text/html"}
NEW_PASSWORD = "un nouveau mot de passe bien long"


async def accessible(page: Page) -> None:
    assert await audit(page) == [], page.url
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} scrolls sideways ({width} px)"


async def ask_for_a_link(page: Page, server: LiveServer, email: str) -> str:
    """From the login page to the confirmation; returns what the page says."""
    await page.goto(f"{server.url}/login")
    await page.get_by_role("link", name="Mot de passe oublié ?").click()
    await page.get_by_role("heading", name="Mot de passe oublié").wait_for()
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_role("button", name="Recevoir le lien").click()
    return await page.get_by_role("status").inner_text()


async def mailed_link(database: Database, smtp: SmtpServer, email: str) -> str:
    url = database.engine.url.render_as_string(hide_password=False)
    smtp_settings = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_tls": "none"}
    settings = make_settings(url, **smtp_settings, smtp_timeout_seconds=5, mail_lease_seconds=60)
    await delivery.drain(database, settings)
    [message] = smtp.received_by(email)
    assert "mot de passe" in message["Subject"]
    text = message.get_body(("plain",))
    assert text is not None
    found = re.search(r"https?://\S+/password-reset/\S+", text.get_content())
    assert found is not None
    return found.group(0)


@pytest.mark.browser
class TestInTheBrowser:
    async def test_a_forgotten_password_is_chosen_again_through_the_mailed_link(
        self,
        audited_page: Page,
        live_server: LiveServer,
        database: Database,
        smtp_server: SmtpServer,
    ) -> None:
        page = audited_page
        async with database.sessionmaker() as session, session.begin():
            user = await create_user(session, Role.admin, f"{uuid.uuid4().hex}@example.fr")
        await page.goto(f"{live_server.url}/password-reset")
        await accessible(page)
        await page.get_by_label("Adresse e-mail").fill("pas une adresse")
        await page.get_by_role("button", name="Recevoir le lien").click()
        field = page.get_by_label("Adresse e-mail")
        assert await field.get_attribute("aria-invalid") == "true"
        assert "adresse e-mail valide" in await page.locator(".field-error").inner_text()
        assert await field.input_value() == "pas une adresse"
        await accessible(page)

        told = await ask_for_a_link(page, live_server, user.email)
        await accessible(page)
        assert told == await ask_for_a_link(page, live_server, "personne@example.fr")
        assert "30 minutes" in told

        link = await mailed_link(database, smtp_server, user.email)
        assert link.startswith(f"{live_server.url}/password-reset/")
        opened = await page.goto(link)
        assert opened is not None and opened.headers["referrer-policy"] == "no-referrer"
        robots = page.locator('meta[name="robots"]')
        assert await robots.get_attribute("content") == "noindex"
        await accessible(page)
        await page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
        await page.get_by_label("Confirmez le mot de passe").fill("autre chose encore")
        await page.get_by_role("button", name="Enregistrer le mot de passe").click()
        assert "pas identiques" in await page.locator(".field-error").inner_text()
        await accessible(page)
        await page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
        await page.get_by_label("Confirmez le mot de passe").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Enregistrer le mot de passe").click()

        await page.get_by_text("Votre mot de passe est enregistré").wait_for()
        await page.get_by_label("Adresse e-mail").fill(user.email)
        await page.get_by_label("Mot de passe").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await page.get_by_role("button", name="Se déconnecter").wait_for()

        await page.goto(link)  # used once only
        assert "n'est plus valable" in await page.get_by_role("alert").inner_text()
        assert await page.get_by_label("Confirmez le mot de passe").count() == 0
        await accessible(page)


def csrf_of(text: str) -> str:
    return text.split('name="csrf_token" value="')[1].split('"')[0]


class TestPages:
    async def test_the_pages_refuse_without_csrf_and_tell_nothing_to_search_engines(
        self, client: AsyncClient
    ) -> None:
        shown = await client.get("/password-reset", headers=HTML)
        assert shown.headers["referrer-policy"] == "no-referrer"
        assert '<meta name="robots" content="noindex">' in shown.text
        refused = await client.post("/password-reset", data={"email": "a@b.fr"}, headers=HTML)
        assert refused.status_code == 403
        gone = await client.get("/password-reset/not-a-real-token", headers=HTML)
        assert gone.status_code == 410 and "plus valable" in gone.text
        assert gone.headers["referrer-policy"] == "no-referrer"
        form = {"password": "x" * 12, "password_confirm": "x" * 12}
        form["csrf_token"] = csrf_of(shown.text)
        posted = await client.post("/password-reset/not-a-real-token", data=form, headers=HTML)
        assert posted.status_code == 410 and "plus valable" in posted.text
        form["password_confirm"] = "y" * 12
        mismatch = await client.post("/password-reset/not-a-real-token", data=form, headers=HTML)
        assert mismatch.status_code == 422 and "pas identiques" in mismatch.text
