"""The administrators' programme pages in Chromium: create a programme (a refused form
keeps what was typed), edit it (a field frozen once open is refused beside the form),
lower the envelope below what is committed (refused, saying why), top it up, close it; every
page accessible and 390 px wide. Other roles get the French 403 page."""

import uuid
from datetime import timedelta

import pytest
from httpx import AsyncClient
from playwright.async_api import Page
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.fixtures.audit import events_of
from tests.fixtures.factories import create_programme, create_user, session_cookie
from tests.fixtures.servers import LiveServer
from tests.web.test_accessibility import log_in
from tests.web.test_password_reset_pages import accessible
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.programmes import service as programmes_service
from voucher_service.programmes.models import Programme

HTML = {"accept": "text/html"}
PAGES = ("/admin/programmes", "/admin/programmes/new", "/admin/programmes/{id}")


class TestAccess:
    @pytest.mark.parametrize("role", [Role.accountant, Role.expert])
    async def test_other_roles_get_the_french_refusal(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, role: Role
    ) -> None:
        programme = await create_programme(session)
        user = await create_user(session, role)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, user))
        for path in PAGES:
            response = await client.get(path.format(id=programme.id), headers=HTML)
            assert response.status_code == 403, path
            assert "Accès refusé" in response.text
            assert "Administrateur ou administratrice" in response.text

    async def test_anonymous_visitors_are_sent_to_the_login(self, client: AsyncClient) -> None:
        response = await client.get("/admin/programmes", headers=HTML)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/admin/programmes"

    async def test_a_form_without_its_csrf_token_changes_nothing(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session)
        admin = await create_user(session, Role.admin)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, admin))
        response = await client.post(f"/admin/programmes/{programme.id}/close", headers=HTML)
        assert response.status_code == 403 and "Le formulaire a expiré" in response.text
        await session.refresh(programme)
        assert programme.closed_at is None


async def fill_new_programme(page: Page, name: str, closes_on: str) -> None:
    today = paris_today()
    await page.get_by_label("Nom du programme").fill(name)
    await page.get_by_label("Adresse e-mail de contact").fill(
        "service.transition-numerique.entreprises@maregionsud.fr"
    )
    await page.get_by_label("Montant du chèque (en euros)").fill("2 000")
    await page.get_by_label("Enveloppe budgétaire (en euros)").fill("10 000")
    await page.get_by_label("Ouverture des demandes").fill((today - timedelta(days=1)).isoformat())
    await page.get_by_label("Clôture des demandes (dernier jour)").fill(closes_on)
    await page.get_by_label("Départements").fill("04, 05, 06, 13, 83, 84")
    await page.get_by_label("Effectif salarié maximal").fill("19")
    await page.get_by_label("Chiffre d'affaires annuel maximal (en euros)").fill("2 000 000")
    await page.get_by_label("Cybersécurité").check()
    await page.get_by_label("Commerce en ligne").check()


async def programme_named(database: Database, name: str) -> Programme:
    async with database.sessionmaker() as session:
        query = select(Programme).where(col(Programme.name) == name)
        return (await session.execute(query)).scalar_one()


async def alert_text(page: Page) -> str:
    return await page.get_by_role("alert").first.inner_text()


async def admin_opens(page: Page, base: str, database: Database, link: str) -> User:
    """A new administrator logs in and follows the navigation's link to a checked page."""
    async with database.sessionmaker() as session, session.begin():
        admin = await create_user(session, Role.admin)
    await log_in(page, base, admin.email)
    await page.get_by_role("link", name=link).click()
    await page.get_by_role("heading", name=link, exact=True).wait_for()
    await accessible(page)
    return admin


@pytest.mark.browser
class TestInTheBrowser:
    async def test_create_edit_change_the_envelope_and_close(
        self, audited_page: Page, live_server: LiveServer, database: Database
    ) -> None:
        page, base = audited_page, live_server.url
        admin = await admin_opens(page, base, database, "Programmes")

        await page.get_by_role("link", name="Créer un programme").click()
        await accessible(page)
        name = f"Mon coach digital — Alpes-de-Haute-Provence et Hautes-Alpes {uuid.uuid4().hex}"
        await fill_new_programme(page, name, (paris_today() - timedelta(days=3)).isoformat())
        await page.get_by_role("button", name="Créer le programme").click()
        closes = page.get_by_label("Clôture des demandes (dernier jour)")
        assert await closes.get_attribute("aria-invalid") == "true"
        assert "précède la date d'ouverture" in await alert_text(page)
        assert await page.get_by_label("Nom du programme").input_value() == name
        await accessible(page)
        await closes.fill((paris_today() + timedelta(days=365)).isoformat())
        await page.get_by_role("button", name="Créer le programme").click()
        assert "Le programme est créé" in await page.get_by_role("status").inner_text()
        await accessible(page)
        programme = await programme_named(database, name)
        assert sorted(programme.themes) == ["cybersecurity", "e-commerce"]
        assert (programme.budget_cents, programme.cheque_amount_cents) == (1_000_000, 200_000)

        await page.get_by_label("Effectif salarié maximal").fill("9")
        await page.get_by_role("button", name="Enregistrer les modifications").click()
        assert "modifications sont enregistrées" in await page.get_by_role("status").inner_text()
        await page.get_by_label("Montant du chèque (en euros)").fill("1 500")
        await page.get_by_role("button", name="Enregistrer les modifications").click()
        assert "le montant du chèque ne peuvent plus changer" in await alert_text(page)
        assert await page.get_by_label("Montant du chèque (en euros)").input_value() == "1 500"
        await accessible(page)

        async with database.sessionmaker() as session, session.begin():
            assert programme.id is not None
            await programmes_service.commit_budget(session, programme.id, 600_000)
        await page.goto(f"{base}/admin/programmes/{programme.id}")
        await page.get_by_label("Nouvelle enveloppe (en euros)").fill("5 000")
        await page.get_by_role("button", name="Modifier l'enveloppe").click()
        refusal = await alert_text(page)
        assert "6\u202f000,00\u00a0€ sont déjà engagés" in refusal, refusal
        assert await page.get_by_label("Nouvelle enveloppe (en euros)").input_value() == "5 000"
        await accessible(page)
        await page.get_by_label("Nouvelle enveloppe (en euros)").fill("15 000")
        await page.get_by_role("button", name="Modifier l'enveloppe").click()
        assert "L'enveloppe est modifiée" in await page.get_by_role("status").inner_text()
        assert "soit 4 chèque(s)" in await page.locator(".figures").inner_text()

        await page.get_by_role("button", name="Clôturer le programme").click()
        assert "Le programme est clôturé" in await page.get_by_role("status").inner_text()
        await page.get_by_role("link", name="Tous les programmes").click()
        assert "Clôturé le" in await page.get_by_role("article").filter(has_text=name).inner_text()
        await accessible(page)

        async with database.sessionmaker() as session:
            events = await events_of(session, "programme", programme.id)
        assert [e.action for e in events] == [
            "programme.created",
            "programme.edited",
            "programme.edited",
            "programme.closed",
        ]
        created, rules, budget, closed = events
        assert created.after is not None and created.after["name"] == name
        assert rules.before is not None and rules.after is not None
        assert (rules.before["max_headcount"], rules.after["max_headcount"]) == (19, 9)
        assert budget.before is not None and budget.after is not None
        assert (budget.before["budget_cents"], budget.after["budget_cents"]) == (
            1_000_000,
            1_500_000,
        )
        assert closed.before is not None and closed.before["closed_at"] is None
        assert closed.after is not None and closed.after["closed_at"] is not None
        assert {e.actor_id for e in events} == {admin.id}
