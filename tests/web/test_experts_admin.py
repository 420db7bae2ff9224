"""The administrators' expert pages in Chromium: the list and each of its filters, register
an expert (its invitation reaches the SMTP server; sent again, only the new link works),
accredit, suspend and revoke with a reason the expert reads in its e-mail (and, suspended,
on its own page), confirm or refuse new bank details; every step audited, every page
accessible and 390 px wide. Other roles get the French 403."""

import re
import uuid
from email.message import EmailMessage

import pytest
from httpx import AsyncClient
from playwright.async_api import Browser, Page, ViewportSize
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from stdnum import luhn

from experts import registry
from experts.models import Accreditation, Expert
from experts.schemas import BankDetails
from notifications import delivery
from tests.fixtures.audit import events_of
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import create_expert, create_user, session_cookie
from tests.fixtures.servers import LiveServer
from tests.fixtures.smtp import SmtpServer
from tests.web.test_password_reset_pages import accessible
from tests.web.test_programmes_admin import admin_opens
from tests.web.test_users_admin import sign_in, status_text
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

HTML = {"accept": "text/html"}
NEW_IBAN = "DE89370400440532013000"
CHOSEN = "le mot de passe de l'experte"


def siret(serial: int) -> str:
    """A valid SIRET of the same company (its establishment number varies)."""
    base = f"732829320{serial:04d}"
    return base + luhn.calc_check_digit(base)


class TestAccess:
    @pytest.mark.parametrize("role", [Role.accountant, Role.expert])
    async def test_other_roles_get_the_french_refusal(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, role: Role
    ) -> None:
        user = await create_user(session, role)
        expert = await create_expert(session)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, user))
        for path in ("/admin/experts", "/admin/experts/new", f"/admin/experts/{expert.id}"):
            response = await client.get(path, headers=HTML)
            assert response.status_code == 403, path
            assert "Accès refusé" in response.text


class TestList:
    async def test_pages_of_25_keep_the_filters(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        tag = uuid.uuid4().hex[:10]
        for serial in range(27):
            await create_expert(session, name=f"Cabinet {tag} {serial:02d}", password=None)
        admin = await create_user(session, Role.admin)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, admin))
        first = (await client.get("/admin/experts", params={"q": tag}, headers=HTML)).text
        assert "Experts correspondants (27)" in first and "Page 1 sur 2" in first
        assert f"Cabinet {tag} 24" in first and f"Cabinet {tag} 25" not in first
        assert f"/admin/experts?q={tag}&amp;page=2" in first
        second = (await client.get(f"/admin/experts?q={tag}&page=2", headers=HTML)).text
        assert f"Cabinet {tag} 25" in second and f"Cabinet {tag} 24" not in second

    async def test_nonsense_filters_are_left_out(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        admin = await create_user(session, Role.admin)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, admin))
        params = {"status": "lost", "theme": "<b>", "department": "99", "page": "x"}
        response = await client.get("/admin/experts", params=params, headers=HTML)
        assert response.status_code == 200 and "Tous les experts" in response.text


async def seed_three(database: Database, tag: str) -> dict[str, Expert]:
    """Three committed experts named after ``tag``: accredited, suspended (with new bank
    details to confirm) and pending."""
    async with database.sessionmaker() as session, session.begin():
        alpha = await create_expert(
            session, name=f"Alpha {tag}", themes=["cybersecurity"], departments=["13"]
        )
        beta = await create_expert(
            session,
            Accreditation.suspended,
            name=f"Bêta {tag}",
            themes=["e-commerce"],
            departments=["83"],
        )
        await registry.request_bank_change(
            session, beta, BankDetails(iban=NEW_IBAN, bic="COBADEFF")
        )
        gamma = await create_expert(
            session,
            Accreditation.pending,
            name=f"Gamma {tag}",
            siret=siret(17),
            email=f"gamma.{tag}@conseil-numerique-luberon.example.fr",
            themes=["collaboration"],
            departments=["84", "13"],
        )
    return {"alpha": alpha, "beta": beta, "gamma": gamma}


async def listed(page: Page) -> list[str]:
    """The names of the experts the list shows."""
    return [name.strip() for name in await page.locator("ul.experts li a").all_inner_texts()]


async def filter_by(page: Page, **choices: str) -> list[str]:
    for label, value in choices.items():
        if label == "Nom, SIRET ou e-mail":
            await page.get_by_label(label).fill(value)
        else:
            await page.get_by_label(label).select_option(label=value)
    await page.get_by_role("button", name="Filtrer").click()
    await page.get_by_role("heading", name=re.compile("Experts correspondants")).wait_for()
    return await listed(page)


async def delivered(database: Database, smtp: SmtpServer, email: str, subject: str) -> EmailMessage:
    """Deliver the queue to the SMTP server; the latest message to ``email``, which must
    have that subject."""
    url = database.engine.url.render_as_string(hide_password=False)
    smtp_settings = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_tls": "none"}
    settings = make_settings(url, **smtp_settings, smtp_timeout_seconds=5, mail_lease_seconds=60)
    await delivery.drain(database, settings)
    message = smtp.received_by(email)[-1]
    assert subject in message["Subject"], message["Subject"]
    return message


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return " ".join(body.get_content().split())


def invitation_link(message: EmailMessage) -> str:
    found = re.search(r"https?://\S+/invitation/\S+", text_of(message))
    assert found is not None
    return found.group(0)


async def expert_named(database: Database, name: str) -> Expert:
    async with database.sessionmaker() as session:
        query = select(Expert).where(col(Expert.legal_name) == name)
        return (await session.execute(query)).scalar_one()


async def decide(page: Page, label: str, reason: str, button: str) -> None:
    await page.get_by_label(label).fill(reason)
    await page.get_by_role("button", name=button).click()


@pytest.mark.browser
class TestInTheBrowser:
    async def test_the_list_and_each_filter(
        self, audited_page: Page, live_server: LiveServer, database: Database
    ) -> None:
        page, tag = audited_page, uuid.uuid4().hex[:10]
        seeded = await seed_three(database, tag)
        await admin_opens(page, live_server.url, database, "Experts")

        names = [f"Alpha {tag}", f"Bêta {tag}", f"Gamma {tag}"]
        assert await filter_by(page, **{"Nom, SIRET ou e-mail": tag}) == names
        await accessible(page)
        beta = page.locator("ul.experts li", has_text=f"Bêta {tag}")
        beta_text = await beta.inner_text()
        assert "Accréditation suspendue" in beta_text
        assert "Coordonnées bancaires à confirmer" in beta_text
        assert "Commerce en ligne" in beta_text and "83 – Var" in beta_text
        alpha_text = await page.locator("ul.experts li", has_text=f"Alpha {tag}").inner_text()
        assert "Accrédité" in alpha_text and "à confirmer" not in alpha_text
        assert seeded["alpha"].siret in alpha_text

        assert await filter_by(page, État="Accréditation suspendue") == [f"Bêta {tag}"]
        assert await filter_by(page, État="En attente d'accréditation") == [f"Gamma {tag}"]
        assert await filter_by(page, État="Tous", Thématique="Cybersécurité") == [f"Alpha {tag}"]
        both = await filter_by(page, Thématique="Toutes", Département="13 – Bouches-du-Rhône")
        assert both == [f"Alpha {tag}", f"Gamma {tag}"]
        await page.get_by_label("Département").select_option(label="Tous")
        assert await filter_by(page, **{"Nom, SIRET ou e-mail": siret(17)}) == [f"Gamma {tag}"]
        by_mail = await filter_by(page, **{"Nom, SIRET ou e-mail": f"GAMMA.{tag}@conseil"})
        assert by_mail == [f"Gamma {tag}"]
        assert await filter_by(page, **{"Nom, SIRET ou e-mail": f"{tag}-absent"}) == []
        assert "Aucun expert ne correspond" in await page.locator("main").inner_text()

    async def test_register_invite_decide_and_bank_details(
        self,
        audited_page: Page,
        browser: Browser,
        live_server: LiveServer,
        database: Database,
        smtp_server: SmtpServer,
    ) -> None:
        page, base = audited_page, live_server.url
        admin = await admin_opens(page, base, database, "Experts")
        name = f"Société coopérative des ateliers numériques du Luberon {uuid.uuid4().hex}"
        email = f"claire.fontaine-{uuid.uuid4().hex[:8]}@ateliers-numeriques-luberon.example.fr"

        await page.get_by_role("link", name="Enregistrer un expert").click()
        await accessible(page)
        await page.get_by_label("Raison sociale").fill(name)
        await page.get_by_label("SIRET").fill("732 829 320 00074")
        await page.get_by_label("Nom et prénom").fill("Claire Fontaine")
        await page.get_by_label("Adresse e-mail").fill(email)
        await page.get_by_label("IBAN").fill("FR76 3000 6000 0112 3456 7890 188")
        await page.get_by_label("BIC").fill("AGRIFRPP")
        await page.get_by_label("Cybersécurité").check()
        await page.get_by_label("84 – Vaucluse").check()
        await page.get_by_role("button", name="Enregistrer l'expert").click()
        iban = page.get_by_label("IBAN")
        assert await iban.get_attribute("aria-invalid") == "true"
        assert await iban.input_value() == "FR76 3000 6000 0112 3456 7890 188"
        assert await page.get_by_label("Raison sociale").input_value() == name
        assert await page.get_by_label("84 – Vaucluse").is_checked()
        assert "Cet IBAN n'est pas valide" in await page.locator("main").inner_text()
        await accessible(page)
        await iban.fill("FR76 3000 6000 0112 3456 7890 189")
        await page.get_by_role("button", name="Enregistrer l'expert").click()
        assert "L'expert est enregistré" in await status_text(page)
        await accessible(page)
        expert = await expert_named(database, name)
        assert expert.departments == ["84"] and expert.themes == ["cybersecurity"]
        main = await page.locator("main").inner_text()
        assert "FR•• •••• •••• 0189" in main and "30006000011234567890189" not in main

        first = invitation_link(await delivered(database, smtp_server, email, "Bienvenue"))
        await page.get_by_role("button", name="Renvoyer l'invitation").click()
        assert "Une nouvelle invitation" in await status_text(page)
        second = invitation_link(await delivered(database, smtp_server, email, "Bienvenue"))
        assert second != first
        phone = ViewportSize(width=390, height=844)
        owner_context = await browser.new_context(locale="fr-FR", viewport=phone, bypass_csp=True)
        owner = await owner_context.new_page()
        try:
            await owner.goto(first)
            assert "n'est plus valable" in await owner.get_by_role("alert").inner_text()
            await owner.goto(second)
            await owner.get_by_label("Mot de passe", exact=True).fill(CHOSEN)
            await owner.get_by_label("Confirmez le mot de passe").fill(CHOSEN)
            await owner.get_by_role("button", name="Enregistrer le mot de passe").click()
            await sign_in(owner, base, email, CHOSEN)
            await owner.get_by_role("heading", name="Espace expert").wait_for()
            await self.decide_and_tell(page, owner, base, database, smtp_server, email)
        finally:
            await owner_context.close()
        await page.reload()
        assert await page.get_by_role("button", name="Renvoyer l'invitation").count() == 0

        await self.bank_details(page, database, smtp_server, expert, email)
        await self.revoke(page, database, smtp_server, email)
        await self.audited(database, expert, admin.id)

    async def decide_and_tell(
        self, page: Page, owner: Page, base: str, database: Database, smtp: SmtpServer, email: str
    ) -> None:
        """Accredit (a reason is needed), suspend: the expert is told why, by e-mail and on
        its own page."""
        await page.get_by_role("button", name="Accréditer l'expert").click()
        reason = page.get_by_label("Raison de l'accréditation")
        assert await reason.get_attribute("aria-invalid") == "true"
        assert "Indiquez la raison" in await page.locator("main").inner_text()
        await accessible(page)
        await decide(
            page, "Raison de l'accréditation", "Références vérifiées.", "Accréditer l'expert"
        )
        assert "L'expert est accrédité" in await status_text(page)
        told = text_of(await delivered(database, smtp, email, "accréditation"))
        assert "est confirmée" in told and "Références vérifiées." in told

        why = "Votre attestation d'assurance professionnelle a expiré le 28/02/2027."
        await decide(page, "Raison de la suspension", why, "Suspendre l'accréditation")
        assert "L'accréditation est suspendue" in await status_text(page)
        await accessible(page)
        told = text_of(await delivered(database, smtp, email, "suspendue"))
        assert why in told
        history = await page.get_by_role("list", name=re.compile("Historique")).inner_text()
        assert why in history and "Références vérifiées." in history

        await owner.goto(f"{base}/expert")
        refusal = await owner.get_by_role("alert").inner_text()
        assert "Vous ne pouvez pas encaisser de chèque" in refusal
        assert f"Raison de la suspension : {why}" in refusal
        await accessible(owner)

    async def bank_details(
        self, page: Page, database: Database, smtp: SmtpServer, expert: Expert, email: str
    ) -> None:
        """Refused (with a reason told to the expert), asked again, then confirmed."""
        for attempt in range(2):
            async with database.sessionmaker() as session, session.begin():
                mine = await session.get(Expert, expert.id)
                assert mine is not None
                details = BankDetails(iban=NEW_IBAN, bic="COBADEFF")
                await registry.request_bank_change(session, mine, details)
            await page.reload()
            assert "DE•• •••• •••• 3000" in await page.locator("#bank-change").inner_text()
            if attempt == 0:
                await page.get_by_role("button", name="Refuser les nouvelles coordonnées").click()
                assert "Indiquez la raison" in await page.locator("#bank-change").inner_text()
                await accessible(page)
                why = "Le RIB joint est au nom d'une autre société."
                await decide(page, "Raison du refus", why, "Refuser les nouvelles coordonnées")
                assert "sont refusées" in await status_text(page)
                told = text_of(await delivered(database, smtp, email, "coordonnées bancaires"))
                assert why in told and "se terminant par 3000" in told
                assert await page.locator("#bank-change").count() == 0
        await page.get_by_role("button", name="Confirmer les nouvelles coordonnées").click()
        assert "sont confirmées" in await status_text(page)
        assert "DE•• •••• •••• 3000" in await page.locator("main").inner_text()

    async def revoke(self, page: Page, database: Database, smtp: SmtpServer, email: str) -> None:
        """Revoking asks for a confirmation, then no decision is left."""
        await decide(page, "Raison de l'accréditation", "Attestation reçue.", "Accréditer l'expert")
        why = "Prestations facturées sans accompagnement réel."
        await decide(page, "Raison du retrait", why, "Retirer l'accréditation")
        assert "Cochez la case pour confirmer" in await page.locator("main").inner_text()
        assert await page.get_by_label("Raison du retrait").input_value() == why
        await accessible(page)
        await page.get_by_label("Je confirme le retrait définitif").check()
        await page.get_by_role("button", name="Retirer l'accréditation").click()
        assert "L'accréditation est retirée" in await status_text(page)
        assert (
            await page.get_by_role("button", name=re.compile("Accréditer|Suspendre")).count() == 0
        )
        told = text_of(await delivered(database, smtp, email, "retirée"))
        assert why in told

    async def audited(self, database: Database, expert: Expert, admin_id: int | None) -> None:
        async with database.sessionmaker() as session:
            events = await events_of(session, "expert", expert.id)
        actions = [e.action for e in events]
        assert actions == [
            "expert.registered",
            "expert.invitation_sent",
            "expert.accredited",
            "expert.suspended",
            "expert.bank_details_requested",
            "expert.bank_details_refused",
            "expert.bank_details_requested",
            "expert.bank_details_confirmed",
            "expert.accredited",
            "expert.revoked",
        ]
        suspended = events[actions.index("expert.suspended")]
        assert suspended.after is not None and "assurance" in suspended.after["reason"]
        refused = events[actions.index("expert.bank_details_refused")]
        assert refused.before == {"iban_last4": "3000", "bic": "COBADEFF"}
        decided = {"expert.accredited", "expert.suspended", "expert.revoked"}
        assert {e.actor_id for e in events if e.action in decided} == {admin_id}
