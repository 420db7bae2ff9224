"""The back office's cheques in Chromium: found by a code typed loosely (which opens it),
by SIRET and by part of the company's name; its page with its history, its redemptions (an
undone one marked) and their payout batch; its PDF; the approval e-mail sent again (a new
message in the outbox); the cancellation confirmed with a reason (a too short one kept
beside its error), audited, told to the business; refusals in French. Accountants read,
administrators act; every page accessible and 390 px wide."""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from httpx import AsyncClient
from playwright.async_api import Page
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts import redemption as redemptions
from experts import service as experts_service
from experts.models import Redemption
from experts.schemas import RedemptionCreate
from notifications.models import Notification, NotificationAttachment
from tests.fixtures.applications import committed_programme, create_application, unique_siret
from tests.fixtures.audit import the_event
from tests.fixtures.factories import create_expert, create_programme, create_user, session_cookie
from tests.fixtures.servers import LiveServer
from tests.fixtures.vouchers import create_voucher
from tests.web.test_password_reset_pages import accessible
from tests.web.test_programmes_admin import admin_opens
from voucher_service.applications import service as applications
from voucher_service.applications.models import ApplicationStatus
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.payouts import batches
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import service as vouchers
from voucher_service.vouchers.models import Voucher, VoucherStatus

HTML = {"accept": "text/html"}
# Redeemed on a day no other test pays, so that this test's batch takes only its own.
LONG_AGO = date(2018, 3, 14)
LONG_NAME = "Société coopérative d'intérêt collectif des ateliers numériques du Luberon"


@dataclass(frozen=True)
class Seeded:
    code: str
    siret: str
    company: str
    email: str
    voucher_id: int
    batch_id: int
    spent_code: str


def loosely(code: str) -> str:
    """How someone might type it: lower case, spaced, without the prefix nor dashes."""
    body = code.removeprefix("MCD-").replace("-", "").lower()
    return " ".join(body[start : start + 4] for start in range(0, len(body), 4))


async def signed_in(
    client: AsyncClient, session: AsyncSession, settings: Settings, role: Role
) -> None:
    """The client's pages are now those of a new user with that role."""
    user = await create_user(session, role)
    client.cookies.set(SESSION_COOKIE, session_cookie(settings, user))


async def _approved(
    session: AsyncSession, programme: Programme, settings: Settings, **fields: str
) -> Voucher:
    application = await create_application(session, programme, ApplicationStatus.eligible, **fields)
    assert application.id is not None
    await applications.approve(session, application.id, settings)
    cheque = await vouchers.for_application(session, application.id)
    assert cheque is not None
    return cheque


def _use(token: str, cents: int, invoice: str) -> RedemptionCreate:
    return RedemptionCreate(
        token=token, amount_cents=cents, coaching_date=paris_today(), invoice_reference=invoice
    )


async def _seed(database: Database, programme: Programme, settings: Settings) -> Seeded:
    """Committed: a cheque of an approved application, used by an expert who undid a first
    redemption, the second in a payout batch; and a cheque used in full."""
    tag = uuid.uuid4().hex[:10]
    company, siret = f"{LONG_NAME} {tag}", unique_siret()
    email = f"direction-generale-{tag}@ateliers-numeriques-luberon.example.fr"
    async with database.sessionmaker() as session, session.begin():
        expert = await create_expert(session, name=f"Conseil numérique du Ventoux {tag}")
        cheque = await _approved(
            session, programme, settings, company_name=company, email=email, siret=siret
        )
        undone, _ = await redemptions.redeem(
            session, expert, _use(cheque.token, 30_000, f"A-{tag}"), settings
        )
        assert undone.id is not None
        await redemptions.cancel(session, expert, undone.id, settings)
        kept, _ = await redemptions.redeem(
            session, expert, _use(cheque.token, 50_000, f"B-{tag}"), settings
        )
        spent = await _approved(session, programme, settings)
        whole, _ = await redemptions.redeem(
            session, expert, _use(spent.token, spent.amount_cents, f"C-{tag}"), settings
        )
        # Both wait in this test's draft batch, not unpaid for the batches of other tests.
        await session.execute(
            update(Redemption)
            .where(col(Redemption.id).in_([kept.id, whole.id]))
            .values(redeemed_at=datetime.combine(LONG_AGO, datetime.min.time(), UTC))
        )
        batch = await batches.create_batch(session, LONG_AGO)
    assert cheque.id is not None and batch.id is not None
    return Seeded(cheque.code, siret, company, email, cheque.id, batch.id, spent.code)


async def _outbox(database: Database, event: str, recipient: str) -> list[Notification]:
    async with database.sessionmaker() as session:
        query = (
            select(Notification)
            .where(col(Notification.event) == event, col(Notification.recipient) == recipient)
            .order_by(col(Notification.id))
        )
        return list((await session.execute(query)).scalars())


async def _attachments(database: Database, notification_id: int | None) -> int:
    async with database.sessionmaker() as session:
        query = select(func.count()).where(
            col(NotificationAttachment.notification_id) == notification_id
        )
        return int((await session.execute(query)).scalar_one())


async def _search(page: Page, text: str) -> None:
    """Type in the search field and send it with the keyboard."""
    await page.get_by_label("Code, SIRET ou entreprise").fill(text)
    await page.get_by_label("Code, SIRET ou entreprise").press("Enter")
    await page.wait_for_load_state()


async def _found_by_search(page: Page, seeded: Seeded) -> None:
    await _search(page, seeded.siret)
    card = page.locator(".cheque-list li")
    assert await card.count() == 1
    assert seeded.company in await card.inner_text()
    await accessible(page)
    await _search(page, seeded.company[-30:].upper())
    assert seeded.code in await page.locator(".cheque-list").inner_text()
    await page.get_by_label("État").select_option(label="Annulé")
    await page.get_by_role("button", name="Rechercher").click()
    assert "Aucun chèque ne correspond" in await page.locator(".cheque-list").inner_text()
    await page.get_by_label("État").select_option(label="Valable, utilisé en partie")
    await _search(page, loosely(seeded.code))
    await page.get_by_role("heading", name=f"Chèque {seeded.code}").wait_for()


async def _see_the_cheque(page: Page, seeded: Seeded) -> None:
    text = await page.locator("main").inner_text()
    for expected in ("Valable, utilisé en partie", seeded.company, "1\u202f500,00", "Émis"):
        assert expected in text, expected
    history = await page.locator(".history").inner_text()
    for step in ("Utilisé par l'expert", "Utilisation annulée par l'expert"):
        assert step in history
    uses = page.locator("#uses-title + ul > li")
    assert await uses.count() == 2
    undone = await uses.filter(has_text="Facture A-").inner_text()
    kept = await uses.filter(has_text="Facture B-").inner_text()
    assert "Utilisation annulée" in undone and "300,00" in undone
    assert "Virement en préparation" in kept and f"n°{seeded.batch_id}" in kept
    assert "Brouillon" in kept
    link = page.get_by_role("link", name="Demande n°")
    assert (await link.get_attribute("href") or "").startswith("/admin/applications/")
    await accessible(page)


async def _download_the_pdf(page: Page) -> None:
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Télécharger le chèque (PDF)").click()
    download = await waiting.value
    path = await download.path()
    assert path.read_bytes().startswith(b"%PDF-")
    assert download.suggested_filename.endswith(".pdf")


async def _resend(page: Page, database: Database, seeded: Seeded) -> None:
    before = await _outbox(database, "application_approved", seeded.email)
    await page.get_by_role("button", name="Renvoyer l'e-mail avec le chèque").click()
    assert "renvoyé" in await page.get_by_role("status").inner_text()
    after = await _outbox(database, "application_approved", seeded.email)
    assert len(after) == len(before) + 1
    assert await _attachments(database, after[-1].id) == 1


async def _cancel(page: Page, live_server: LiveServer, seeded: Seeded) -> None:
    await page.get_by_role("link", name="Annuler le chèque…").click()
    await page.get_by_role("heading", name=f"Annuler le chèque {seeded.code}").wait_for()
    await accessible(page)
    late = await page.context.new_page()  # the same form, left open in another tab
    await late.goto(page.url)
    reason = page.get_by_label("Motif de l'annulation")
    await reason.fill("  x ")
    await page.get_by_role("button", name="Confirmer l'annulation").click()
    assert await reason.get_attribute("aria-invalid") == "true"
    assert await reason.input_value() == "  x "
    assert "3 à 500 caractères" in await page.locator("#reason-error").inner_text()
    await accessible(page)
    await reason.fill("Entreprise radiée du registre du commerce")
    await page.get_by_role("button", name="Confirmer l'annulation").click()
    assert "Le chèque est annulé" in await page.get_by_role("status").inner_text()
    assert "Annulé" in await page.locator(".badge").first.inner_text()
    await accessible(page)
    await late.get_by_label("Motif de l'annulation").fill("Doublon de la demande")
    await late.get_by_role("button", name="Confirmer l'annulation").click()
    assert "déjà annulé" in await late.get_by_role("alert").inner_text()
    await late.close()


@pytest.mark.browser
class TestInTheBrowser:
    async def test_search_read_download_resend_and_cancel(
        self, audited_page: Page, live_server: LiveServer, database: Database, settings: Settings
    ) -> None:
        page, base = audited_page, live_server.url
        async with committed_programme(database, budget_cents=10_000_000) as programme:
            seeded = await _seed(database, programme, settings)
            admin = await admin_opens(page, base, database, "Chèques")
            await _found_by_search(page, seeded)
            await _see_the_cheque(page, seeded)
            await _download_the_pdf(page)
            await _resend(page, database, seeded)
            await _cancel(page, live_server, seeded)

            await page.goto(f"{base}/admin/cheques/{seeded.spent_code}")
            assert "entièrement utilisé" in await page.locator("main").inner_text()
            assert await page.get_by_role("link", name="Annuler le chèque…").count() == 0
            await page.goto(f"{base}/admin/cheques/{seeded.spent_code}/cancel")
            assert "entièrement utilisé" in await page.get_by_role("alert").inner_text()
            await accessible(page)

        async with database.sessionmaker() as session:
            cheque = await session.get(Voucher, seeded.voucher_id)
            assert cheque is not None and cheque.status is VoucherStatus.cancelled
            event = await the_event(session, "voucher", seeded.voucher_id, "voucher.cancelled")
        assert event.actor_id == admin.id
        assert event.after is not None
        assert event.after["reason"] == "Entreprise radiée du registre du commerce"
        [told] = await _outbox(database, "voucher_cancelled", seeded.email)
        assert told.data["reason"] == "Entreprise radiée du registre du commerce"
        assert told.data["voucher_code"] == seeded.code


class TestAccess:
    async def test_accountants_read_without_acting_and_experts_are_refused(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        await signed_in(client, session, settings, Role.accountant)
        listing = await client.get("/admin/cheques", headers=HTML)
        assert listing.status_code == 200 and 'href="/admin/cheques"' in listing.text
        page = await client.get(f"/admin/cheques/{issued.code}", headers=HTML)
        assert page.status_code == 200 and issued.code in page.text
        for action in ("Télécharger le chèque", "Renvoyer", "Annuler le chèque"):
            assert action not in page.text
        for path in ("cheque.pdf", "cancel"):
            response = await client.get(f"/admin/cheques/{issued.code}/{path}", headers=HTML)
            assert response.status_code == 403 and "Accès refusé" in response.text
        await signed_in(client, session, settings, Role.expert)
        refused = await client.get("/admin/cheques", headers=HTML)
        assert refused.status_code == 403 and "Comptable" in refused.text

    async def test_a_cancellation_without_its_csrf_token_changes_nothing(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        await signed_in(client, session, settings, Role.admin)
        response = await client.post(
            f"/admin/cheques/{issued.code}/cancel", data={"reason": "Doublon"}, headers=HTML
        )
        assert response.status_code == 403 and "Le formulaire a expiré" in response.text
        await session.refresh(issued.voucher)
        assert issued.voucher.status is VoucherStatus.issued


class TestPages:
    async def test_a_loose_code_or_a_token_leads_to_the_cheque_s_one_address(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        await signed_in(client, session, settings, Role.admin)
        for typed in (loosely(issued.code), issued.token):
            response = await client.get(f"/admin/cheques/{typed}", headers=HTML)
            assert response.status_code == 303
            assert response.headers["location"] == f"/admin/cheques/{issued.code}"
        found = await client.get("/admin/cheques", params={"q": loosely(issued.code)})
        assert found.headers["location"] == f"/admin/cheques/{issued.code}"
        unknown = await client.get("/admin/cheques/MCD-ZZZZ", headers=HTML)
        assert unknown.status_code == 422 and "Chèque illisible" in unknown.text

    async def test_paid_redemptions_and_an_expired_cheque_in_french(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session)
        issued = await create_voucher(session, settings, programme)
        expert = await create_expert(session)
        body = _use(issued.token, issued.voucher.amount_cents, "FA-2026-001")
        redemption, _ = await redemptions.redeem(session, expert, body, settings)
        assert redemption.id is not None
        await experts_service.mark_paid(session, [redemption.id])
        await vouchers.mark_paid(session, [issued.voucher.id or 0])
        stale = await create_voucher(
            session, settings, programme, valid_until=paris_today() - timedelta(days=1)
        )
        await signed_in(client, session, settings, Role.admin)
        paid = unescape((await client.get(f"/admin/cheques/{issued.code}", headers=HTML)).text)
        assert "Utilisé et payé" in paid and "badge-payout-paid" in paid and "FA-2026-001" in paid
        assert "payé à l'expert : il ne peut plus être annulé" in paid
        expired = unescape((await client.get(f"/admin/cheques/{stale.code}", headers=HTML)).text)
        assert "badge-cheque-expired" in expired and "Expiré" in expired
        assert "il n'est plus envoyé" in expired
        assert "Renvoyer l'e-mail" not in expired
