"""The second factor in Chromium against a real server: enrolment reads the secret from the
page and the test computes the codes with pyotp; the login asks for a code, refuses a
replayed one and takes a recovery code once; enabling and disabling end other sessions."""

from collections.abc import AsyncIterator

import pyotp
import pytest
from httpx import AsyncClient
from playwright.async_api import Page

from tests.core.test_sessions import accounting_with, assert_sent_to_login, csrf_of, page_login
from tests.core.test_settings import PAYING_ACCOUNT
from tests.fixtures.cli import run_cli
from tests.fixtures.factories import PASSWORD, create_user
from tests.fixtures.servers import LiveServer, serve
from tests.web.test_password_reset_pages import accessible
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import utcnow
from voucher_service.core.db import Database

CODE_FIELD = "Code de vérification"


async def committed_user(database: Database, role: Role) -> str:
    async with database.sessionmaker() as session, session.begin():
        return (await create_user(session, role)).email


async def password_step(page: Page, server: LiveServer, email: str) -> None:
    await page.goto(f"{server.url}/login")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()


async def code_step(page: Page, code: str) -> None:
    await page.get_by_label(CODE_FIELD).fill(code)
    await page.get_by_role("button", name="Valider").click()


async def log_out(page: Page) -> None:
    await page.get_by_role("button", name="Se déconnecter").click()
    await page.get_by_role("link", name="Espace professionnel").wait_for()


async def enrol_in_page(page: Page) -> tuple[pyotp.TOTP, list[str]]:
    """On /account/2fa: scan (read) the secret, confirm with a current code."""
    qr = page.get_by_role("img", name="QR code à scanner avec votre application d'authentification")
    assert (await qr.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
    totp = pyotp.TOTP((await page.locator("#totp-secret").inner_text()).strip())
    await page.get_by_label("Code à 6 chiffres").fill(totp.now())
    await page.get_by_role("button", name="Activer la double authentification").click()
    await page.get_by_role("heading", name="Vos codes de secours").wait_for()
    shown = page.get_by_role("list", name="Codes de secours").locator("code")
    return totp, await shown.all_inner_texts()


@pytest.mark.browser
class TestInTheBrowser:
    async def test_enrol_then_log_in_with_a_code_never_twice_and_with_a_recovery_code_once(
        self, audited_page: Page, live_server: LiveServer, database: Database
    ) -> None:
        page = audited_page
        email = await committed_user(database, Role.accountant)
        await password_step(page, live_server, email)
        await page.get_by_role("link", name="Double authentification").click()
        await accessible(page)
        await page.get_by_label("Code à 6 chiffres").fill("000000")
        await page.get_by_role("button", name="Activer la double authentification").click()
        assert "ne correspond pas" in await page.locator(".field-error").inner_text()
        await accessible(page)
        totp, codes = await enrol_in_page(page)
        assert len(codes) == 10
        await accessible(page)
        await page.get_by_role("link", name="J'ai noté mes codes, continuer").click()
        await log_out(page)

        await password_step(page, live_server, email)
        await page.get_by_role("heading", name="Code de vérification").wait_for()
        await accessible(page)
        code = totp.at(utcnow(), counter_offset=1)  # enrolment used the current step
        await code_step(page, code)
        await page.wait_for_url(f"{live_server.url}/accounting")
        await page.get_by_role("button", name="Se déconnecter").wait_for()
        await log_out(page)

        await password_step(page, live_server, email)
        await code_step(page, code)
        assert "déjà servi" in await page.get_by_role("alert").inner_text()
        assert await page.get_by_label(CODE_FIELD).get_attribute("aria-invalid") == "true"
        await accessible(page)
        await code_step(page, codes[0])
        await page.get_by_role("button", name="Se déconnecter").wait_for()
        await log_out(page)

        await password_step(page, live_server, email)
        await code_step(page, codes[0])
        assert "déjà servi" in await page.get_by_role("alert").inner_text()


@pytest.fixture
async def browser_like(live_server: LiveServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(base_url=live_server.url) as client:
        yield client


async def enable_by_form(client: AsyncClient) -> pyotp.TOTP:
    form = await client.get("/account/2fa")
    secret = form.text.split('id="totp-secret">')[1].split("<")[0]
    pending = form.text.split('name="pending" value="')[1].split('"')[0]
    totp = pyotp.TOTP(secret)
    data = {"code": totp.now(), "pending": pending, "csrf_token": csrf_of(form.text)}
    shown = await client.post("/account/2fa", data=data)
    assert shown.status_code == 200 and "Vos codes de secours" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    return totp


class TestSessions:
    async def test_enabling_and_disabling_end_the_other_sessions_but_not_this_one(
        self, live_server: LiveServer, database: Database, browser_like: AsyncClient
    ) -> None:
        email = await committed_user(database, Role.accountant)
        assert (await page_login(browser_like, email)).status_code == 303
        async with AsyncClient(base_url=live_server.url) as other:
            assert (await page_login(other, email)).status_code == 303
            elsewhere = other.cookies[SESSION_COOKIE]
        await enable_by_form(browser_like)
        assert_sent_to_login(await accounting_with(live_server, elsewhere))
        here = browser_like.cookies[SESSION_COOKIE]
        assert (await accounting_with(live_server, here)).status_code == 200

        async with AsyncClient(base_url=live_server.url) as other:
            assert (await page_login(other, email)).headers["location"].startswith("/login/2fa")
        page = await browser_like.get("/account/2fa")
        data = {"proof": "not the password", "csrf_token": csrf_of(page.text)}
        refused = await browser_like.post("/account/2fa/disable", data=data)
        assert refused.status_code == 401 and "incorrect" in refused.text
        data["proof"] = PASSWORD
        done = await browser_like.post("/account/2fa/disable", data=data)
        assert done.headers["location"] == "/account/2fa?notice=disabled"
        assert_sent_to_login(await accounting_with(live_server, here))
        fresh = browser_like.cookies[SESSION_COOKIE]
        assert (await accounting_with(live_server, fresh)).status_code == 200
        async with AsyncClient(base_url=live_server.url) as other:
            assert (await page_login(other, email)).headers["location"] == "/accounting"


class TestOperatorReset:
    async def test_reset_2fa_removes_it_and_ends_the_sessions(
        self, live_server: LiveServer, database: Database, browser_like: AsyncClient
    ) -> None:
        email = await committed_user(database, Role.admin)
        assert (await page_login(browser_like, email)).status_code == 303
        await enable_by_form(browser_like)
        kept = browser_like.cookies[SESSION_COOKIE]
        result = await run_cli("reset-2fa", "--email", email, env=live_server.env)
        assert result.code == 0, result.stderr
        assert (await accounting_with(live_server, kept)).status_code == 303
        async with AsyncClient(base_url=live_server.url) as other:
            assert (await page_login(other, email)).headers["location"] == "/admin"
        again = await run_cli("reset-2fa", "--email", email, env=live_server.env)
        assert again.code == 1 and "n'est pas activée" in again.stderr


@pytest.fixture(scope="module")
async def production_server(database: Database) -> AsyncIterator[LiveServer]:
    url = database.engine.url.render_as_string(hide_password=False)
    async with serve(
        url,
        MCD_ENV="production",  # which requires the second factor of admins and accountants
        MCD_PAYOUT_DEBTOR_IBAN=PAYING_ACCOUNT["payout_debtor_iban"],
        MCD_PAYOUT_DEBTOR_BIC=PAYING_ACCOUNT["payout_debtor_bic"],
    ) as server:
        yield server


class TestProductionRequirement:
    async def test_an_admin_without_second_factor_is_sent_to_enrol_and_nothing_else(
        self, production_server: LiveServer, database: Database
    ) -> None:
        email = await committed_user(database, Role.admin)
        async with AsyncClient(base_url=production_server.url) as client:
            landed = await page_login(client, email)
            assert landed.headers["location"] == "/account/2fa"
            admin = await client.get("/admin", headers={"accept": "text/html"})
            assert admin.status_code == 303 and admin.headers["location"] == "/account/2fa"
            token = await client.post(
                "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
            )
            assert token.status_code == 403 and token.json()["code"] == "totp_enrolment_required"
            totp = await enable_by_form(client)
            assert (await client.get("/admin", headers={"accept": "text/html"})).status_code == 200
            form = {"username": email, "password": PASSWORD}
            assert (await client.post("/api/v1/auth/token", data=form)).status_code == 401
            form["totp"] = totp.at(utcnow(), counter_offset=1)
            assert (await client.post("/api/v1/auth/token", data=form)).status_code == 200
