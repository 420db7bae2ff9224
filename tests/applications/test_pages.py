"""The form, the status page and the review queue as browsers see them."""

from typing import Any

import pytest
from httpx import AsyncClient
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.core.test_errors import assert_problem
from tests.fixtures.applications import (
    application_body,
    committed_programme,
    create_application,
    unique_siret,
)
from tests.fixtures.factories import (
    close_committed_programmes,
    create_programme,
    create_user,
    session_cookie,
)
from tests.fixtures.servers import LiveServer
from voucher_service.applications import service
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

HTML = {"accept": "text/html"}


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def as_form(body: dict[str, Any]) -> dict[str, str]:
    form = {k: str(v) for k, v in body.items() if not isinstance(v, bool)}
    form.update({k: "on" for k, v in body.items() if v is True})
    return form


async def log_in(
    client: AsyncClient, session: AsyncSession, settings: Settings, role: Role
) -> None:
    user = await create_user(session, role)
    client.cookies.set("mcd_session", session_cookie(settings, user))


@pytest.mark.browser
class TestFormInBrowser:
    async def test_wrong_field_then_corrected_lands_on_the_status_page(
        self, page: Page, live_server: LiveServer, database: Database
    ) -> None:
        async with committed_programme(database):
            await page.goto(f"{live_server.url}/apply")
            await page.get_by_label("Numéro SIRET de l'établissement").fill(unique_siret())
            await page.get_by_label("Raison sociale").fill("Atelier Calanques SARL")
            await page.get_by_label("Effectif salarié").fill("6")
            await page.get_by_label("Chiffre d'affaires annuel (en euros)").fill("480 000")
            await page.get_by_label("Nom et prénom").fill("Élodie Martin")
            await page.get_by_label("Adresse e-mail").fill("elodie@example.fr")
            await page.get_by_label("Téléphone").fill("04 91 00")
            await page.get_by_label("Thématique").select_option("cybersecurity")
            await page.get_by_label("Aides de minimis reçues", exact=False).fill("0")
            await page.get_by_label("J'atteste sur l'honneur", exact=False).check()
            await page.get_by_label("J'accepte ce traitement", exact=False).check()
            await page.get_by_role("button", name="Envoyer la demande").click()

            summary = page.get_by_role("alert")
            await expect(summary).to_contain_text("1 champ à corriger")
            await expect(summary.get_by_role("link")).to_have_attribute("href", "#phone")
            phone = page.get_by_label("Téléphone")
            await expect(phone).to_have_attribute("aria-invalid", "true")
            described = await phone.get_attribute("aria-describedby") or ""
            assert "phone-error" in described.split()
            await expect(page.locator("#phone-error")).to_contain_text(
                "Numéro de téléphone invalide"
            )
            await expect(page.get_by_label("Raison sociale")).to_have_value(
                "Atelier Calanques SARL"
            )
            await expect(page.get_by_label("Chiffre d'affaires annuel (en euros)")).to_have_value(
                "480 000"
            )
            await expect(page.get_by_label("J'accepte ce traitement", exact=False)).to_be_checked()

            await phone.fill("04 91 00 00 00")
            await page.get_by_role("button", name="Envoyer la demande").click()
            await expect(page.get_by_role("heading", level=1)).to_contain_text(
                "Suivi de votre demande"
            )
            assert "/status/" in page.url
            await expect(page.get_by_role("table")).to_contain_text("Effectif salarié")
            await expect(page.locator(".facts")).to_contain_text("Atelier Calanques SARL")


class TestFormPage:
    @pytest.fixture(autouse=True)
    async def only_this_tests_programmes(self, session: AsyncSession) -> None:
        await close_committed_programmes(session)

    async def test_no_open_programme(self, client: AsyncClient) -> None:
        response = await client.get("/apply")
        assert response.status_code == 200 and "Aucun appel" in response.text

    async def test_the_notice_states_the_retention_period(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        await create_programme(session)
        response = await client.get("/apply")
        assert f"{settings.retention_months} mois" in response.text
        assert 'aria-describedby="consent-notice"' in response.text

    async def test_a_post_without_the_csrf_token_is_refused(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        response = await client.post("/apply", data=as_form(application_body()), headers=HTML)
        assert response.status_code == 403

    async def test_errors_keep_the_values_and_name_the_fields(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        token = csrf_of((await client.get("/apply")).text)
        body = as_form(application_body(siret="73282932000075", email="nope"))
        body.pop("consent")
        response = await client.post("/apply", data={**body, "csrf_token": token})
        assert response.status_code == 422
        assert "3 champs à corriger" in response.text
        for field in ("siret", "email", "consent"):
            assert f'href="#{field}"' in response.text and f'id="{field}-error"' in response.text
        assert "Ce numéro SIRET n&#39;existe pas" in response.text
        assert 'value="Atelier Calanques SARL"' in response.text

    async def applied_once(self, client: AsyncClient, session: AsyncSession) -> dict[str, str]:
        """The form sent once (it lands on its status page): the form, with the link."""
        await create_programme(session)
        token = csrf_of((await client.get("/apply")).text)
        form = {**as_form(application_body()), "csrf_token": token}
        first = await client.post("/apply", data=form)
        assert first.status_code == 303 and first.headers["location"].startswith("/status/")
        return {**form, "status_link": first.headers["location"]}

    async def test_the_same_form_twice_is_kept_and_offers_the_status_link(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        form = await self.applied_once(client, session)
        link = form.pop("status_link")
        corrected = {**form, "company_name": "Atelier Calanques (nouveau nom)"}
        second = await client.post("/apply", data=corrected)
        assert second.status_code == 409 and "n'a pas été enregistré" in second.text
        assert 'value="Atelier Calanques (nouveau nom)"' in second.text
        assert f'href="{link}"' in second.text
        assert 'action="/status-link"' in second.text
        status = await client.get(link)
        assert status.status_code == 200 and "à examiner" in status.text

    async def test_another_e_mail_is_not_given_the_existing_link(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        form = await self.applied_once(client, session)
        link = form.pop("status_link")
        other = await client.post("/apply", data={**form, "email": "autre@example.fr"})
        assert other.status_code == 409 and 'value="autre@example.fr"' in other.text
        assert link not in other.text

    async def test_the_rules_come_before_the_form(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session, max_headcount=9, themes=["e-commerce"])
        page = (await client.get("/apply")).text
        rules = page.index("Les conditions du programme")
        assert rules < page.index('<form method="post" action="/apply"')
        for text in ("9 salariés au plus", "84 – Vaucluse", "Commerce en ligne", "/status-link"):
            assert text in page[rules:], text


class TestStatusPage:
    async def test_explains_a_refusal(self, client: AsyncClient, session: AsyncSession) -> None:
        programme = await create_programme(session)
        application = await create_application(
            session, programme, ApplicationStatus.rejected, decision_reason="Activité exclue."
        )
        response = await client.get(f"/status/{application.status_token}")
        assert "refusée" in response.text and "Activité exclue." in response.text
        assert "elodie@example.fr" not in response.text

    async def test_an_unknown_token(self, client: AsyncClient) -> None:
        response = await client.get("/status/not-a-token", headers=HTML)
        assert response.status_code == 404 and "Demande introuvable" in response.text
        assert 'href="/status-link"' in response.text

    async def test_no_cheque_pdf_before_approval_nor_for_an_unknown_token(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme, ApplicationStatus.eligible)
        shown = await client.get(f"/status/{application.status_token}")
        assert "/cheque.pdf" not in shown.text
        assert shown.headers["referrer-policy"] == "no-referrer"
        waiting = await client.get(f"/status/{application.status_token}/cheque.pdf")
        assert_problem(waiting, 404, "cheque_not_issued")
        unknown = await client.get("/status/not-a-token/cheque.pdf")
        assert_problem(unknown, 404, "application_not_found")
        page = await client.get("/status/not-a-token/cheque.pdf", headers=HTML)
        assert page.status_code == 404 and "Demande introuvable" in page.text

    async def test_the_cheque_pdf_once_approved(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme, ApplicationStatus.eligible)
        assert application.id is not None
        await service.approve(session, application.id, settings)
        response = await client.get(f"/status/{application.status_token}/cheque.pdf")
        assert response.status_code == 200 and response.content.startswith(b"%PDF")
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith('attachment; filename="cheque-')
        assert response.headers["cache-control"] == "no-store"

    async def test_the_status_link_form_refuses_without_csrf(self, client: AsyncClient) -> None:
        shown = await client.get("/status-link", headers=HTML)
        assert shown.status_code == 200 and '<meta name="robots" content="noindex">' in shown.text
        body = {"siret": "73282932000074", "email": "a@b.fr"}
        refused = await client.post("/status-link", data=body, headers=HTML)
        assert refused.status_code == 403


class TestReviewPages:
    async def test_login_is_required(self, client: AsyncClient) -> None:
        response = await client.get("/admin", headers=HTML)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")

    async def test_experts_are_refused(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        await log_in(client, session, settings, Role.expert)
        assert (await client.get("/admin", headers=HTML)).status_code == 403

    async def test_queue_gauge_and_bulk_approval(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session, budget_cents=400_000)
        ids = [(await create_application(session, programme)).id for _ in range(3)]
        await log_in(client, session, settings, Role.admin)
        queue = await client.get("/admin", params={"status": "eligible"})
        assert queue.status_code == 200
        assert f'<meter id="gauge-{programme.id}"' in queue.text
        for application_id in ids:
            assert f'name="ids" value="{application_id}"' in queue.text
        form = {"csrf_token": csrf_of(queue.text), "ids": [str(i) for i in ids]}
        response = await client.post("/admin/applications/approve", data=form)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin?approved=2&refused=1"
        after = await client.get(response.headers["location"])
        assert "2 demande(s) approuvée(s)" in after.text and "1 refusée(s)" in after.text

    async def test_decide_one_application(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme, ApplicationStatus.needs_review)
        await log_in(client, session, settings, Role.admin)
        detail = await client.get(f"/admin/applications/{application.id}")
        assert detail.status_code == 200 and "Refuser la demande" in detail.text
        token = csrf_of(detail.text)
        url = f"/admin/applications/{application.id}"
        empty = await client.post(f"{url}/reject", data={"csrf_token": token, "reason": ""})
        assert empty.status_code == 422 and 'aria-invalid="true"' in empty.text
        rejected = await client.post(
            f"{url}/reject", data={"csrf_token": token, "reason": "Hors champ."}
        )
        assert rejected.status_code == 303
        again = await client.post(f"{url}/approve", data={"csrf_token": token})
        assert again.status_code == 409 and "ne peut pas être approuvée" in again.text
        stored = await session.get(Application, application.id, populate_existing=True)
        assert stored is not None and stored.status is ApplicationStatus.rejected
