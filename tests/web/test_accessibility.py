"""Every page passes axe-core (run in Chromium) with no serious or critical violation, and
fits a 390 px wide phone without scrolling sideways, with realistic data: long company
names and e-mail addresses."""

from pathlib import Path

import pytest
from playwright.async_api import Page

from experts import registry
from experts.models import Accreditation
from experts.schemas import BankDetails
from notifications import service
from tests.fixtures.applications import (
    committed_application,
    committed_programme,
    committed_review,
)
from tests.fixtures.factories import PASSWORD, create_expert, create_user
from tests.fixtures.servers import LiveServer
from tests.fixtures.vouchers import create_voucher
from tests.notifications.samples import sample
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.programmes.models import Programme

pytestmark = pytest.mark.browser

AXE = Path(__file__).parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
LONG_NAME = "Société coopérative d'intérêt collectif des ateliers numériques du Luberon"
LONG_EMAIL = "direction.generale.ateliers-numeriques@cooperative-luberon-alpilles.example.fr"
LONG_REQUEST = (
    "Merci de nous transmettre l'adresse exacte de l'établissement bénéficiaire, "
    "l'attestation de régularité fiscale et sociale de moins de six mois, ainsi que le détail "
    "des aides de minimis reçues ces trois derniers exercices : "
    "https://www.maregionsud.fr/aides-et-appels-a-projets/detail/cheque-numerique-tpe"
)
LONG_NOTE = "Échange téléphonique avec la gérante le 2 décembre : " + "dossier complet sauf " * 12


async def violations(page: Page, url: str) -> list[str]:
    await page.goto(url)
    return await audit(page)


async def audit(page: Page) -> list[str]:
    """The blocking violations of the page as it is now (after a form was sent, say)."""
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes'][:3]}"
        for v in found
        if v["impact"] in BLOCKING
    ]
    return blocking + await sideways_scroll(page)


async def sideways_scroll(page: Page) -> list[str]:
    """The page is wider than the screen: a phone would scroll it sideways."""
    width, screen = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return [f"scrolls sideways: {width} px wide on a {screen} px screen"] if width > screen else []


async def log_in(page: Page, base: str, email: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_role("button", name="Se déconnecter").wait_for()


async def committed_cheque(database: Database, settings: Settings, programme: Programme) -> str:
    """The code of a committed cheque of the programme, for a long-named company."""
    async with database.sessionmaker() as session, session.begin():
        cheque = (await create_voucher(session, settings, programme)).voucher
        cheque.company_name, cheque.beneficiary_email = LONG_NAME, LONG_EMAIL
    return cheque.code


async def waiting_for_a_correction(
    database: Database, programme: Programme, author_id: int | None = None
) -> Application:
    """An application with long names waiting for its applicant's answer to a long request,
    with a private note (shown on the staff's page only)."""
    if author_id is None:
        async with database.sessionmaker() as session, session.begin():
            author_id = (await create_user(session, Role.admin)).id
    assert author_id is not None
    application = await committed_application(
        database,
        programme,
        ApplicationStatus.correction_requested,
        company_name=LONG_NAME,
        email=LONG_EMAIL,
    )
    await committed_review(database, application, author_id, LONG_REQUEST, LONG_NOTE)
    return application


class TestAccessibility:
    async def test_public_pages(
        self, audited_page: Page, live_server: LiveServer, database: Database
    ) -> None:
        async with committed_programme(database) as programme:
            application = await committed_application(
                database,
                programme,
                ApplicationStatus.needs_review,
                company_name=LONG_NAME,
                email=LONG_EMAIL,
            )
            waiting = await waiting_for_a_correction(database, programme)
            status = f"/status/{application.status_token}"
            corrected = f"/status/{waiting.status_token}"
            for path in ("/", "/apply", "/login", "/status-link", status, corrected):
                assert await violations(audited_page, live_server.url + path) == [], path
            await audited_page.get_by_role("button", name="Envoyer ma réponse").click()
            assert await audit(audited_page) == [], "the answer refused empty"

    async def test_administrator_pages(
        self, audited_page: Page, live_server: LiveServer, database: Database, settings: Settings
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            admin = await create_user(session, Role.admin)
            message = await service.enqueue(
                session, "application_approved", LONG_EMAIL, sample("application_approved")
            )
            expert = await create_expert(
                session,
                Accreditation.suspended,
                name=LONG_NAME,
                email=f"expert.{LONG_EMAIL}",
                themes=["e-commerce", "cybersecurity", "collaboration"],
                departments=["04", "05", "06", "13", "83", "84"],
                password=None,
            )
            details = BankDetails(iban="DE89370400440532013000", bic="COBADEFF")
            await registry.request_bank_change(session, expert, details)
        assert message is not None
        async with committed_programme(database) as programme:
            application = await committed_application(
                database,
                programme,
                ApplicationStatus.eligible,
                company_name=LONG_NAME,
                email=LONG_EMAIL,
            )
            cheque = await committed_cheque(database, settings, programme)
            waiting = await waiting_for_a_correction(database, programme, admin.id)
            await log_in(audited_page, live_server.url, admin.email)
            paths = (
                "/admin",
                f"/admin/applications/{application.id}",
                "/admin/cheques",
                "/admin/cheques?q=luberon&status=issued",
                f"/admin/cheques/{cheque}",
                f"/admin/cheques/{cheque}/cancel",
                f"/admin/applications/{waiting.id}",
                "/admin/notifications",
                f"/admin/notifications/{message.id}",
                "/admin/programmes",
                "/admin/programmes/new",
                f"/admin/programmes/{programme.id}",
                "/admin/users",
                f"/admin/users/{admin.id}",
                "/admin/experts",
                f"/admin/experts?q={LONG_NAME[:20]}&status=suspended&department=13",
                "/admin/experts/new",
                f"/admin/experts/{expert.id}",
            )
            for path in paths:
                assert await violations(audited_page, live_server.url + path) == [], path

    async def test_accounting_page(
        self, audited_page: Page, live_server: LiveServer, database: Database
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            accountant = await create_user(session, Role.accountant)
        await log_in(audited_page, live_server.url, accountant.email)
        for path in ("/accounting", "/admin/cheques"):
            assert await violations(audited_page, live_server.url + path) == [], path

    async def test_expert_pages(
        self, audited_page: Page, live_server: LiveServer, database: Database, settings: Settings
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            expert = await create_expert(session)
            suspended = await create_expert(session, Accreditation.suspended, name=LONG_NAME)
            issued = await create_voucher(session, settings)
        await log_in(audited_page, live_server.url, expert.email)
        for path in ("/expert", f"/r/{issued.token}"):
            assert await violations(audited_page, live_server.url + path) == [], path
        await audited_page.get_by_role("button", name="Se déconnecter").click()
        await log_in(audited_page, live_server.url, suspended.email)
        assert await violations(audited_page, f"{live_server.url}/expert") == []
