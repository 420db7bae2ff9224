"""The review tools end to end, in Chromium against a real server and a real SMTP
server: staff note an application and ask for a correction, the business gets the
e-mail, answers from its status page (where the note never shows), and the application
is back in the review queue, flagged, with the history on both pages."""

import re
import uuid

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.applications import committed_application, committed_programme
from tests.fixtures.audit import actions_of
from tests.fixtures.factories import create_user
from tests.fixtures.servers import LiveServer
from tests.fixtures.smtp import SmtpServer, mailed_to
from tests.web.test_accessibility import log_in
from tests.web.test_password_reset_pages import accessible
from voucher_service.applications.models import ApplicationStatus
from voucher_service.core.auth.models import Role
from voucher_service.core.db import Database

pytestmark = pytest.mark.browser

NOTE = "Appelé la gérante : l'effectif déclaré est confirmé, reste l'adresse."
ASKED = "Merci d'indiquer l'adresse exacte de l'établissement qui bénéficiera du chèque."
ANSWER = "L'atelier est au 12 rue de la République, 13002 Marseille."


async def staff_ask(page: Page, server: LiveServer, application_id: int) -> None:
    """On the staff's page: a note, a correction request refused empty, then sent."""
    await page.goto(f"{server.url}/admin/applications/{application_id}")
    await page.get_by_label("Ajouter une note interne").fill(NOTE)
    await page.get_by_role("button", name="Ajouter la note").click()
    await expect(page.get_by_role("status")).to_contain_text("Note ajoutée.")
    await expect(page.locator(".history")).to_contain_text(NOTE)
    await accessible(page)
    await page.get_by_label("Demander un complément au demandeur").fill("ab")
    await page.get_by_role("button", name="Demander un complément").click()
    field = page.get_by_label("Demander un complément au demandeur")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_have_value("ab")
    await accessible(page)
    await field.fill(ASKED)
    await page.get_by_role("button", name="Demander un complément").click()
    await expect(page.get_by_role("status").first).to_contain_text("prévenu par e-mail")
    await expect(page.get_by_role("button", name=re.compile("^Approuver"))).to_have_count(0)
    await expect(page.locator(".alert-warn")).to_contain_text("En attente de la réponse")
    await accessible(page)


async def business_answers(page: Page, link: str) -> None:
    await page.goto(link)
    await expect(page.locator("#complement")).to_be_visible()
    await expect(page.locator("main")).to_contain_text(ASKED)
    await expect(page.locator("main")).not_to_contain_text(NOTE)
    await expect(page.locator("main")).not_to_contain_text("Note interne")
    await accessible(page)
    await page.get_by_role("button", name="Envoyer ma réponse").click()
    answer = page.get_by_label("Votre réponse")
    await expect(answer).to_have_attribute("aria-invalid", "true")
    await accessible(page)
    await answer.fill(ANSWER)
    await page.get_by_role("button", name="Envoyer ma réponse").click()
    await expect(page.get_by_role("status").first).to_contain_text("Votre réponse a été transmise")
    history = page.locator(".history > li")
    await expect(history).to_have_count(3)  # submitted, asked, answered
    await expect(history.nth(1)).to_contain_text(ASKED)
    await expect(history.nth(2)).to_contain_text(ANSWER)
    await expect(page.get_by_role("button", name="Envoyer ma réponse")).to_have_count(0)
    await accessible(page)


class TestReviewJourney:
    async def test_note_correction_mailed_answered_back_in_the_queue(
        self,
        audited_page: Page,
        live_server: LiveServer,
        database: Database,
        smtp_server: SmtpServer,
    ) -> None:
        page, email = audited_page, f"elodie.{uuid.uuid4().hex[:8]}@example.fr"
        async with database.sessionmaker() as session, session.begin():
            admin = await create_user(session, Role.admin)
        async with committed_programme(database) as programme:
            application = await committed_application(
                database, programme, ApplicationStatus.needs_review, email=email
            )
            assert application.id is not None
            await log_in(page, live_server.url, admin.email)
            await staff_ask(page, live_server, application.id)

            message = await mailed_to(
                database, smtp_server, email, "un complément vous est demandé"
            )
            text = message.get_body(("plain",))
            assert text is not None and ASKED in text.get_content()
            link = re.search(r"https?://\S+/status/\S+", text.get_content())
            assert link is not None
            assert link.group(0) == f"{live_server.url}/status/{application.status_token}"
            assert NOTE not in text.get_content()

            business = await page.context.browser.new_context(  # type: ignore[union-attr]
                locale="fr-FR", bypass_csp=True, viewport={"width": 390, "height": 844}
            )
            try:
                await business_answers(await business.new_page(), link.group(0))
            finally:
                await business.close()

            await page.goto(f"{live_server.url}/admin?status=needs_review")
            row = page.get_by_role("row").filter(has_text=f"{application.id}")
            await expect(row.first).to_contain_text("Réponse du demandeur reçue")
            await accessible(page)
            await page.goto(f"{live_server.url}/admin/applications/{application.id}")
            history = page.locator(".history > li")
            await expect(history.nth(1)).to_contain_text(NOTE)
            await expect(history.nth(2)).to_contain_text(ASKED)
            await expect(history.nth(3)).to_contain_text(ANSWER)
            await expect(page.get_by_role("button", name=re.compile("^Approuver"))).to_be_visible()
            await accessible(page)

        async with database.sessionmaker() as session:
            actions = await actions_of(session, "application", application.id)
        expected = [
            "application.note_added",
            "application.correction_requested",
            "application.correction_answered",
        ]
        assert [a for a in actions if a in expected] == expected
