"""The business's whole journey from the pages, in Chromium against a real server: it
applies, an administrator approves, its status page shows the cheque (a QR that a scanner
reads, code, balance, validity, uses) and gives its PDF, and a lost status link comes back
by e-mail."""

import re
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from experts import redemption
from experts.schemas import RedemptionCreate
from tests.fixtures.applications import committed_programme, unique_siret
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import close_committed_programmes, create_expert
from tests.fixtures.servers import LiveServer
from tests.fixtures.smtp import SmtpServer, mailed_to
from tests.vouchers.test_pdf import read_qr_codes, run
from tests.web.test_password_reset_pages import accessible
from voucher_service.applications import service as applications
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.core.formatting import french_date
from voucher_service.vouchers import service as vouchers

pytestmark = pytest.mark.browser

LONG_NAME = "Société Coopérative d'Intérêt Collectif des Ateliers Numériques du Haut-Var SARL"


@pytest.fixture(autouse=True)
async def only_this_tests_programme(database: Database) -> None:
    """Live-server tests that ran before may have left a programme open (a committed
    cheque's): the form must find this test's programme as the only open one."""
    async with database.sessionmaker() as session, session.begin():
        await close_committed_programmes(session)


def server_settings(database: Database, server: LiveServer, **overrides: object) -> Settings:
    url = database.engine.url.render_as_string(hide_password=False)
    return make_settings(url, public_url=server.url, fraud_quick_redemption_hours=0, **overrides)


async def apply(page: Page, server: LiveServer, siret: str, email: str, name: str) -> None:
    await page.goto(f"{server.url}/apply")
    await page.get_by_label("Numéro SIRET de l'établissement").fill(siret)
    await page.get_by_label("Raison sociale").fill(name)
    await page.get_by_label("Effectif salarié").fill("6")
    await page.get_by_label("Chiffre d'affaires annuel (en euros)").fill("480 000")
    await page.get_by_label("Nom et prénom").fill("Élodie Martin")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Téléphone").fill("04 91 00 00 00")
    await page.get_by_label("Thématique").select_option("cybersecurity")
    await page.get_by_label("Aides de minimis reçues", exact=False).fill("0")
    await page.get_by_label("J'atteste sur l'honneur", exact=False).check()
    await page.get_by_label("J'accepte ce traitement", exact=False).check()
    await page.get_by_role("button", name="Envoyer la demande").click()


async def approve_and_use(database: Database, settings: Settings, token: str) -> str:
    """An administrator approves (through the service), then an expert redeems 300 € and
    undoes it, and redeems 500 €: the cheque's code."""
    async with database.sessionmaker() as session, session.begin():
        application = await applications.by_status_token(session, token)
        assert application.id is not None
        await applications.approve(session, application.id, settings)
        cheque = await vouchers.for_application(session, application.id)
        assert cheque is not None
        expert = await create_expert(session, name="Numérique Provence Conseil")
        undone, _ = await redemption.redeem(session, expert, use(cheque.code, 30_000), settings)
        assert undone.id is not None
        await redemption.cancel(session, expert, undone.id, settings)
        await redemption.redeem(session, expert, use(cheque.code, 50_000), settings)
        return cheque.code


def use(code: str, amount_cents: int) -> RedemptionCreate:
    return RedemptionCreate(
        token=code,
        amount_cents=amount_cents,
        coaching_date=paris_today().isoformat(),
        invoice_reference=f"F-{amount_cents}",
    )


async def link_mailed_to(database: Database, smtp: SmtpServer, email: str) -> EmailMessage:
    """The one status link message the worker delivers to ``email``."""
    return await mailed_to(database, smtp, email, "lien de suivi")


class TestBusinessJourney:
    async def test_apply_approved_cheque_pdf_and_a_lost_link(
        self,
        audited_page: Page,
        live_server: LiveServer,
        database: Database,
        smtp_server: SmtpServer,
        tmp_path: Path,
    ) -> None:
        page, email = audited_page, f"elodie.{uuid.uuid4().hex[:8]}@example.fr"
        async with committed_programme(database, cheque_amount_cents=200_000):
            await page.goto(f"{live_server.url}/apply")
            rules = page.get_by_role("region", name="Les conditions du programme", exact=False)
            await expect(rules).to_contain_text("13 – Bouches-du-Rhône")
            await expect(rules).to_contain_text("19 salariés au plus")
            await expect(rules).to_contain_text("2 000 000,00 €")
            await expect(rules).to_contain_text("Cybersécurité")
            await accessible(page)

            await apply(page, live_server, unique_siret(), email, LONG_NAME)
            await expect(page.get_by_role("heading", level=1)).to_contain_text("Suivi")
            token = page.url.rsplit("/status/", 1)[1]
            await accessible(page)
            assert await page.get_by_role("heading", name="Votre chèque").count() == 0

            settings = server_settings(database, live_server)
            code = await approve_and_use(database, settings, token)
            await page.reload()
            facts = page.locator(".cheque-facts")
            await expect(facts).to_contain_text(code)
            await expect(facts).to_contain_text("2 000,00 €")  # the amount
            await expect(facts).to_contain_text("1 500,00 €")  # the balance left
            await expect(facts).to_contain_text("Utilisé en partie")
            await expect(facts).to_contain_text(f"du {french_date(paris_today())}")
            qr = page.get_by_role("img", name=f"QR code du chèque {code}", exact=False)
            await qr.screenshot(path=str(tmp_path / "shown.png"))
            shown = run("zbarimg", "--raw", "-q", str(tmp_path / "shown.png")).split()
            cheque_token = await cheque_token_of(database, token)
            assert shown == [f"{live_server.url}/r/{cheque_token}"]
            uses = page.locator(".cheque-uses > li")
            await expect(uses).to_have_count(2)
            await expect(uses.nth(0)).to_contain_text("Annulée")
            await expect(uses.nth(0)).to_contain_text("300,00 €")
            await expect(uses.nth(1)).to_contain_text("Numérique Provence Conseil")
            await expect(uses.nth(1)).to_contain_text("500,00 €")
            assert await uses.nth(1).get_by_text("Annulée").count() == 0
            await accessible(page)

            async with page.expect_download() as downloading:
                await page.get_by_role("link", name="Télécharger le chèque (PDF)").click()
            download = await downloading.value
            assert download.suggested_filename == f"cheque-{code}.pdf"
            pdf = Path(await download.path()).read_bytes()
            assert read_qr_codes(pdf, tmp_path) == shown

            await page.get_by_role("link", name="Recevez-le à nouveau par e-mail").click()
            await page.get_by_role("heading", name="Lien de suivi perdu").wait_for()
            await accessible(page)
            await page.get_by_label("Numéro SIRET de l'établissement").fill("123")
            await page.get_by_label("Adresse e-mail de la demande").fill(email)
            await page.get_by_role("button", name="Recevoir le lien").click()
            await expect(page.locator("#siret-error")).to_contain_text("14 chiffres")
            await expect(page.get_by_label("Adresse e-mail de la demande")).to_have_value(email)
            await accessible(page)
            siret = await siret_of(database, token)
            await page.get_by_label("Numéro SIRET de l'établissement").fill(siret)
            await page.get_by_role("button", name="Recevoir le lien").click()
            told = await page.get_by_role("status").inner_text()
            await accessible(page)

            message = await link_mailed_to(database, smtp_server, email)
            assert "lien de suivi" in message["Subject"]
            text = message.get_body(("plain",))
            assert text is not None
            link = re.search(r"https?://\S+/status/\S+", text.get_content())
            assert link is not None and link.group(0) == f"{live_server.url}/status/{token}"
            await page.goto(link.group(0))
            await expect(page.locator(".cheque-facts")).to_contain_text(code)

            other = f"personne.{uuid.uuid4().hex[:8]}@example.fr"
            await page.goto(f"{live_server.url}/status-link")
            await page.get_by_label("Numéro SIRET de l'établissement").fill(siret)
            await page.get_by_label("Adresse e-mail de la demande").fill(other)
            await page.get_by_role("button", name="Recevoir le lien").click()
            assert await page.get_by_role("status").inner_text() == told

    async def test_the_status_page_fits_a_phone_with_long_names(
        self, page: Page, live_server: LiveServer, database: Database
    ) -> None:
        email = f"direction.generale.des.ateliers.numeriques.{uuid.uuid4().hex}@example.fr"
        async with committed_programme(database):
            await apply(page, live_server, unique_siret(), email, LONG_NAME)
            await expect(page.get_by_role("heading", level=1)).to_contain_text("Suivi")
            token = page.url.rsplit("/status/", 1)[1]
            await approve_and_use(database, server_settings(database, live_server), token)
            await page.reload()
            await expect(page.locator(".cheque-facts")).to_be_visible()
            assert page.viewport_size == {"width": 390, "height": 844}
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the status page is {width} px wide"
            report = page.locator(".table-scroll")
            inner, shown = await report.evaluate("e => [e.scrollWidth, e.clientWidth]")
            assert inner <= shown, "the report's explanations scroll sideways"
            explanation = page.locator(".report td").last
            box = await explanation.bounding_box()
            assert box is not None and box["x"] + box["width"] <= 390

    async def test_a_second_form_for_a_live_application_is_kept_and_says_so(
        self,
        audited_page: Page,
        live_server: LiveServer,
        database: Database,
        smtp_server: SmtpServer,
    ) -> None:
        page, siret = audited_page, unique_siret()
        email = f"elodie.{uuid.uuid4().hex[:8]}@example.fr"
        async with committed_programme(database):
            await apply(page, live_server, siret, email, "Atelier Calanques SARL")
            first = page.url
            assert "/status/" in first
            await apply(page, live_server, siret, email, "Atelier Calanques (corrigé)")
            alert = page.locator("#duplicate")
            await expect(alert).to_contain_text("n'a pas été enregistré")
            await expect(page.get_by_label("Raison sociale")).to_have_value(
                "Atelier Calanques (corrigé)"
            )
            await expect(page.get_by_label("Adresse e-mail")).to_have_value(email)
            await accessible(page)
            await alert.get_by_role("button", name="Recevoir le lien de suivi par e-mail").click()
            await expect(page.get_by_role("status")).to_contain_text("Si une demande a été")
            message = await link_mailed_to(database, smtp_server, email)
            text = message.get_body(("plain",))
            assert text is not None and first in text.get_content()


async def cheque_token_of(database: Database, status_token: str) -> str:
    async with database.sessionmaker() as session:
        application = await applications.by_status_token(session, status_token)
        assert application.id is not None
        cheque = await vouchers.for_application(session, application.id)
        assert cheque is not None
        return cheque.token


async def siret_of(database: Database, status_token: str) -> str:
    async with database.sessionmaker() as session:
        application: Application = await applications.by_status_token(session, status_token)
        assert application.status is ApplicationStatus.approved
        return application.siret
