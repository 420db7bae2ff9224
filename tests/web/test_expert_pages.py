"""The expert's pages: scan the printed cheque, log in, confirm once; the home page with
the scanner, the typed code and undo; a suspended expert refused; the invitation."""

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
import qrcode
from httpx import AsyncClient
from PIL import Image
from playwright.async_api import Page, Request, async_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts import redemption
from experts import registry as expert_registry
from experts.models import Accreditation, RedemptionAttempt
from experts.schemas import ExpertCreate, RedemptionCreate
from tests.fixtures.browser import CHROMIUM, FLAGS
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import (
    FACTORY_SETTINGS,
    PASSWORD,
    create_expert,
    create_user,
    expert_body,
    session_cookie,
    user_of,
)
from tests.fixtures.servers import LiveServer
from tests.fixtures.vouchers import create_voucher
from tests.vouchers.test_pdf import read_qr_codes
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.core.formatting import parse_euros
from voucher_service.programmes import service as programme_service
from voucher_service.vouchers import service as voucher_service

HTML = {"accept": "text/html"}


def live_settings(database: Database, server: LiveServer) -> Settings:
    url = database.engine.url.render_as_string(hide_password=False)
    return make_settings(url, public_url=server.url)


async def seed(
    database: Database, server: LiveServer, status: Accreditation = Accreditation.accredited
) -> tuple[str, voucher_service.IssuedVoucher, bytes]:
    """A committed expert (its e-mail) and cheque (and the cheque's PDF)."""
    settings = live_settings(database, server)
    async with database.sessionmaker() as session, session.begin():
        expert = await create_expert(session, status)
        issued = await create_voucher(session, settings)
        programme = await programme_service.get(session, issued.voucher.programme_id)
        pdf = await voucher_service.render_pdf(issued.voucher, programme, settings)
    return expert.email, issued, pdf


async def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()


@pytest.mark.browser
class TestInTheBrowser:
    async def test_the_printed_qr_opens_the_cheque_which_is_redeemed_once(
        self, page: Page, live_server: LiveServer, database: Database, tmp_path: Path
    ) -> None:
        email, issued, pdf = await seed(database, live_server)
        (url,) = read_qr_codes(pdf, tmp_path)
        assert url == f"{live_server.url}/r/{issued.token}"

        await page.goto(url)
        assert "/login" in page.url
        await log_in(page, email)
        await page.get_by_role("heading", name="Encaisser un chèque").wait_for()
        assert page.url == url
        body = await page.locator("main").inner_text()
        assert "Atelier Calanques SARL" in body and issued.code in body
        assert "elodie@example.fr" not in await page.content()
        assert await page.get_by_label("Montant à encaisser").input_value() == "2000,00"

        # The same cheque opened twice (two scans): only one confirmation can win.
        second = await page.context.new_page()
        await second.goto(url)
        for tab, reference in ((page, "FAC-2026-001"), (second, "FAC-2026-002")):
            await tab.get_by_label("Référence de votre facture").fill(reference)
        await page.get_by_role("button", name="Confirmer l'encaissement").click()
        await page.get_by_role("heading", name="Chèque encaissé").wait_for()
        receipt = await page.locator("main").inner_text()
        assert issued.code in receipt and "annulable jusqu'au" in receipt
        assert "Solde restant du chèque : 0,00" in receipt

        await second.get_by_role("button", name="Confirmer l'encaissement").click()
        alert = second.get_by_role("alert").first
        await alert.wait_for()
        assert "déjà utilisé" in await alert.inner_text()
        assert await second.get_by_label("Référence de votre facture").count() == 0

    async def test_home_scanner_is_local_typed_code_and_undo(
        self, page: Page, live_server: LiveServer, database: Database
    ) -> None:
        email, issued, _ = await seed(database, live_server)
        requested: list[str] = []

        def record(request: Request) -> None:
            requested.append(request.url)

        page.on("request", record)
        await page.goto(f"{live_server.url}/expert")
        await log_in(page, email)
        start = page.get_by_role("button", name="Scanner un chèque")
        await start.wait_for()  # scan.js ran: it reveals the button
        scripts = await page.eval_on_selector_all(
            "script[src]", "tags => tags.map(t => new URL(t.src).pathname)"
        )
        assert scripts and all(path.startswith("/static/") for path in scripts)
        assert requested and all(u.startswith(live_server.url) for u in requested), requested

        await page.get_by_label("Ou saisissez le code du chèque").fill(issued.code.lower())
        await page.get_by_role("button", name="Afficher le chèque").click()
        await page.get_by_label("Montant à encaisser").fill("1 500,50")
        await page.get_by_label("Référence de votre facture").fill("FAC-7")
        await page.get_by_role("button", name="Confirmer l'encaissement").click()
        await page.get_by_role("heading", name="Chèque encaissé").wait_for()
        assert "Solde restant du chèque : 499,50" in await page.locator("main").inner_text()

        await page.get_by_role("link", name="Retour à l'espace expert").click()
        row = page.locator("li", has_text=issued.code)
        assert "1 500,50" in (await row.inner_text()).replace("\u202f", " ")
        await row.get_by_role("button", name=re.compile("Annuler")).click()
        await page.get_by_text("est annulé").wait_for()
        assert "Annulé" in await page.locator("li", has_text=issued.code).inner_text()
        assert await page.locator("li", has_text=issued.code).get_by_role("button").count() == 0
        assert all(u.startswith(live_server.url) for u in requested), requested

    async def test_an_invitation_sets_a_password_that_logs_in(
        self, page: Page, live_server: LiveServer, database: Database
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            body = ExpertCreate.model_validate(expert_body(password=None))
            expert, token = await expert_registry.register(session, body, FACTORY_SETTINGS)
        assert token is not None
        await page.goto(f"{live_server.url}/invitation/{token}")
        await page.get_by_label("Mot de passe", exact=True).fill("trop court")
        await page.get_by_label("Confirmez le mot de passe").fill("trop court")
        await page.get_by_role("button", name="Enregistrer le mot de passe").click()
        assert "au moins 12 caractères" in await page.locator("main").inner_text()

        new_password = "un mot de passe bien long"
        await page.get_by_label("Mot de passe", exact=True).fill(new_password)
        await page.get_by_label("Confirmez le mot de passe").fill(new_password)
        await page.get_by_role("button", name="Enregistrer le mot de passe").click()
        await page.get_by_text("Votre mot de passe est enregistré").wait_for()
        await log_in(page, expert.email, new_password)
        await page.get_by_role("heading", name="Espace expert").wait_for()

        await page.goto(f"{live_server.url}/invitation/{token}")  # used once only
        assert "n'est plus valable" in await page.get_by_role("alert").inner_text()
        assert await page.get_by_label("Confirmez le mot de passe").count() == 0


async def signed_in(
    client: AsyncClient, session: AsyncSession, settings: Settings, user_id: int | None
) -> str:
    """The expert's session cookie on the client; returns a page's CSRF token."""
    client.cookies.set(SESSION_COOKIE, session_cookie(settings, await user_of(session, user_id)))
    client.headers.update(HTML)
    page = await client.get("/expert")
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


class TestPages:
    async def test_not_logged_in_goes_to_login_then_back(self, client: AsyncClient) -> None:
        response = await client.get("/r/MCD-ABCD-EFGH-J", headers=HTML)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/r/MCD-ABCD-EFGH-J"

    @pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 3000, "%C3%A9t%C3%A9..", "MCD-0"])
    async def test_a_garbage_token_is_a_french_error(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, token: str
    ) -> None:
        expert = await create_expert(session)
        await signed_in(client, session, settings, expert.user_id)
        response = await client.get(f"/r/{token}")
        assert 400 <= response.status_code < 500, response.text
        assert "Chèque" in response.text and 'lang="fr"' in response.text

    async def test_a_suspended_expert_is_refused_with_the_reason(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert = await create_expert(session, Accreditation.suspended)
        issued = await create_voucher(session, settings)
        csrf = await signed_in(client, session, settings, expert.user_id)

        home = await client.get("/expert")
        assert "Vous ne pouvez pas encaisser de chèque" in home.text
        assert "Scanner un chèque" not in home.text
        shown = await client.get(f"/r/{issued.token}")
        assert shown.status_code == 403
        text = html.unescape(shown.text)
        assert "Votre accréditation ne permet pas d'encaisser de chèque" in text
        assert "Accréditation suspendue." in text
        assert 'name="invoice_reference"' not in text
        for secret in (issued.voucher.company_name, issued.code, "Solde disponible"):
            assert secret not in text

        form = {
            "amount": "2000",
            "coaching_date": paris_today().isoformat(),
            "invoice_reference": "F-1",
            "csrf_token": csrf,
        }
        refused = await client.post(f"/r/{issued.token}", data=form)
        assert refused.status_code == 403
        assert "Votre accréditation ne permet pas d'encaisser de chèque" in html.unescape(
            refused.text
        )
        assert issued.voucher.company_name not in refused.text
        attempts = await session.execute(
            select(col(RedemptionAttempt.code)).where(col(RedemptionAttempt.expert_id) == expert.id)
        )
        assert list(attempts.scalars()) == ["not_accredited"]

    async def test_a_wrong_amount_or_coaching_date_keeps_what_was_typed(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert = await create_expert(session)
        issued = await create_voucher(session, settings)
        csrf = await signed_in(client, session, settings, expert.user_id)
        form = {
            "amount": "3 000,00",
            "coaching_date": paris_today().isoformat(),
            "invoice_reference": "FAC-42",
            "csrf_token": csrf,
        }
        refused = await client.post(f"/r/{issued.code}", data=form)
        assert refused.status_code == 409
        assert "Solde du chèque insuffisant" in refused.text
        assert 'value="FAC-42"' in refused.text and 'value="3 000,00"' in refused.text

        form["amount"] = "deux mille"
        invalid = await client.post(f"/r/{issued.code}", data=form)
        assert invalid.status_code == 422 and "montant en euros" in invalid.text

        form["amount"] = "100"
        yesterday = (paris_today() - timedelta(days=1)).isoformat()
        for day, message in (
            ("2099-12-31", "La date de l'accompagnement ne peut pas être future."),
            (yesterday, "La date de l'accompagnement ne peut pas précéder l'émission du chèque"),
        ):
            form["coaching_date"] = day
            refused = await client.post(f"/r/{issued.code}", data=form)
            assert refused.status_code == 422
            beside = re.search(r'id="coaching_date-error">(.*?)</p>', refused.text, re.S)
            assert beside and message in html.unescape(beside.group(1)), refused.text
            assert f'value="{day}"' in refused.text and 'value="FAC-42"' in refused.text

    async def test_a_double_tap_shows_the_first_answer_twice(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert = await create_expert(session)
        issued = await create_voucher(session, settings)
        await signed_in(client, session, settings, expert.user_id)
        shown = (await client.get(f"/r/{issued.token}")).text
        names = ("csrf_token", "submission", "amount", "coaching_date")
        form = {n: re.findall(f'name="{n}"[^>]*value="([^"]*)"', shown)[0] for n in names}
        form["invoice_reference"] = "FAC-9"
        first = await client.post(f"/r/{issued.token}", data=form)
        again = await client.post(f"/r/{issued.token}", data=form)
        assert first.status_code == again.status_code == 303
        assert first.headers["location"] == again.headers["location"]
        receipt = await client.get(first.headers["location"])
        assert "Chèque encaissé" in receipt.text and "FAC-9" in receipt.text
        attempts = await session.execute(
            select(col(RedemptionAttempt.code)).where(col(RedemptionAttempt.expert_id) == expert.id)
        )
        assert list(attempts.scalars()) == []

        form["submission"] = "another-form"  # a new form: the cheque is spent
        refused = await client.post(f"/r/{issued.token}", data=form)
        assert refused.status_code == 409 and "déjà utilisé" in refused.text

    async def test_another_expert_neither_sees_nor_undoes_my_redemption(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        mine, theirs = await create_expert(session), await create_expert(session)
        issued = await create_voucher(session, settings)
        body = RedemptionCreate(
            token=issued.code, coaching_date=paris_today().isoformat(), invoice_reference="F-1"
        )
        done, _ = await redemption.redeem(session, mine, body, settings)
        csrf = await signed_in(client, session, settings, theirs.user_id)
        assert issued.code not in (await client.get("/expert")).text
        assert (await client.get(f"/expert/redemptions/{done.id}")).status_code == 404
        undo = await client.post(f"/expert/redemptions/{done.id}/cancel", data={"csrf_token": csrf})
        assert undo.status_code == 403 and "Seul l" in undo.text

    async def test_staff_cannot_open_the_expert_pages(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        admin = await create_user(session, Role.admin)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, admin))
        for path in ("/expert", "/r/MCD-ABCD-EFGH-J"):
            response = await client.get(path, headers=HTML)
            assert response.status_code == 403 and "Page réservée" in response.text

    async def test_a_post_without_csrf_is_refused(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert = await create_expert(session)
        issued = await create_voucher(session, settings)
        await signed_in(client, session, settings, expert.user_id)
        today = paris_today().isoformat()
        form = {"amount": "10", "coaching_date": today, "invoice_reference": "F"}
        response = await client.post(f"/r/{issued.code}", data=form)
        assert response.status_code == 403

    async def test_an_unknown_invitation_is_refused_in_french(self, client: AsyncClient) -> None:
        shown = await client.get("/invitation/not-a-real-token", headers=HTML)
        assert shown.status_code == 410 and "plus valable" in shown.text
        csrf = (await client.get("/login")).text.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"password": "x" * 12, "password_confirm": "x" * 12, "csrf_token": csrf}
        posted = await client.post("/invitation/not-a-real-token", data=form, headers=HTML)
        assert posted.status_code == 410 and "plus valable" in posted.text
        form["password_confirm"] = "y" * 12
        mismatch = await client.post("/invitation/not-a-real-token", data=form, headers=HTML)
        assert mismatch.status_code == 422 and "pas identiques" in mismatch.text

    async def test_login_sends_an_expert_home_and_never_to_another_site(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        expert = await create_expert(session)
        form_page = await client.get("/login")
        csrf = form_page.text.split('name="csrf_token" value="')[1].split('"')[0]
        for next_page, landing in (
            ("", "/expert"),
            ("/\\evil.example", "/expert"),
            ("/r/X", "/r/X"),
        ):
            form = {"email": expert.email, "password": PASSWORD, "csrf_token": csrf}
            response = await client.post("/login", data={**form, "next": next_page})
            assert response.status_code == 303
            assert response.headers["location"] == landing


@pytest.mark.parametrize(
    ("text", "cents"),
    [("2000", 200_000), ("1 500,5", 150_050), ("1\u202f500,50\u00a0€", 150_050), ("0.99", 99)],
)
def test_parse_euros(text: str, cents: int) -> None:
    assert parse_euros(text) == cents


@pytest.mark.parametrize("text", ["", "0", "0,00", "-5", "1,234", "12e3", "1.000,00"])
def test_parse_euros_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="montant"):
        parse_euros(text)


def camera_file(text: str, folder: Path) -> Path:
    """A Y4M video of a QR code held in front of the camera, for Chromium's fake camera."""
    width, height = 640, 480
    frame = Image.new("RGB", (width, height), "white")
    qr = (
        qrcode.make(text, border=4)
        .get_image()
        .convert("RGB")
        .resize((400, 400), Image.Resampling.NEAREST)
    )
    frame.paste(qr, ((width - 400) // 2, (height - 400) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    path = folder / "camera.y4m"
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n".join([b"", *[planes] * 10]))
    return path


@pytest.mark.browser
@pytest.mark.parametrize("foreign", [False, True], ids=["own-site", "foreign-site"])
async def test_the_camera_reads_the_qr_and_opens_the_cheque(
    live_server: LiveServer, database: Database, tmp_path: Path, foreign: bool
) -> None:
    """Chromium's fake camera films the cheque's QR: scan.js decodes it (jsQR, as Linux
    Chromium has no BarcodeDetector) and opens the cheque, but never another site."""
    email, issued, pdf = await seed(database, live_server)
    (url,) = read_qr_codes(pdf, tmp_path)
    shown = url.replace(live_server.url, "https://evil.example") if foreign else url
    video = camera_file(shown, tmp_path)
    flags = [
        *FLAGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=flags
        )
        try:
            context = await browser.new_context(locale="fr-FR")
            await context.grant_permissions(["camera"], origin=live_server.url)
            page = await context.new_page()
            await page.goto(f"{live_server.url}/expert")
            await log_in(page, email)
            await page.get_by_role("button", name="Scanner un chèque").click()
            if foreign:
                await page.get_by_text("n'est pas celui d'un chèque").wait_for()
                assert page.url.startswith(f"{live_server.url}/expert")
            else:
                await page.wait_for_url(url)
                await page.get_by_role("heading", name="Encaisser un chèque").wait_for()
                assert issued.code in await page.locator("main").inner_text()
        finally:
            await browser.close()


class TestThrottledForm:
    async def test_too_many_refusals_slow_the_form_down_too(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert = await create_expert(session)
        issued = await create_voucher(session, settings)
        csrf = await signed_in(client, session, settings, expert.user_id)
        form = {
            "amount": "100",
            "coaching_date": paris_today().isoformat(),
            "invoice_reference": "F-1",
            "csrf_token": csrf,
        }
        for n in range(settings.redemption_max_failures - 1):
            refused = await client.post(f"/r/MCD-AAAA-BBBB-{n}", data=form)
            assert refused.status_code == 422
        # One refusal short of the limit, a good cheque still goes through.
        taken = await client.post(f"/r/{issued.token}", data=form)
        assert taken.status_code == 303
        await client.post("/r/MCD-AAAA-BBBB-X", data=form)

        slowed = await client.post(f"/r/{issued.token}", data=form)
        assert slowed.status_code == 429
        window_seconds = settings.redemption_failure_window_minutes * 60
        assert window_seconds - 5 < int(slowed.headers["Retry-After"]) <= window_seconds
        assert "Trop de tentatives refusées" in slowed.text
        await session.refresh(issued.voucher)
        assert issued.voucher.balance_cents == issued.voucher.amount_cents - 10_000
        attempts = await session.execute(
            select(col(RedemptionAttempt.code)).where(col(RedemptionAttempt.expert_id) == expert.id)
        )
        codes = list(attempts.scalars())
        assert codes == ["invalid_token"] * settings.redemption_max_failures


class TestALimitOfOneRefusal:
    @pytest.fixture
    def settings(self, database: Database) -> Settings:
        url = database.engine.url.render_as_string(hide_password=False)
        return make_settings(url, redemption_max_failures=1)

    async def test_the_first_try_goes_through_the_second_waits(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert = await create_expert(session)
        issued = await create_voucher(session, settings)
        csrf = await signed_in(client, session, settings, expert.user_id)
        form = {
            "amount": "100",
            "coaching_date": paris_today().isoformat(),
            "invoice_reference": "F-1",
            "csrf_token": csrf,
        }
        assert (await client.post(f"/r/{issued.token}", data=form)).status_code == 303
        assert (await client.post("/r/MCD-AAAA-BBBB-X", data=form)).status_code == 422
        assert (await client.post(f"/r/{issued.token}", data=form)).status_code == 429
