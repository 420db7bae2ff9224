"""The batch and statement views on a phone: no sideways scroll with long names, axe-core
clean, reachable with the keyboard alone, French only."""

import re
import uuid
from datetime import UTC, date, datetime

import pytest
from playwright.async_api import Page
from sqlalchemy import delete, func, select, update
from sqlmodel import col

from experts.models import Redemption
from experts.redemption import redeem
from experts.schemas import RedemptionCreate
from notifications.models import Notification
from tests.fixtures.applications import committed_programme
from tests.fixtures.factories import create_expert, create_user
from tests.fixtures.servers import LiveServer
from tests.fixtures.vouchers import create_voucher
from tests.payouts.camt_builder import StatementEntry, StatementTransaction, build_statement
from tests.web.test_accessibility import audit, log_in, violations
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.payouts import batches, repository, statements

pytestmark = pytest.mark.browser

# Redeemed on a day no other test pays, so that this batch takes only these redemptions.
LONG_AGO = date(2019, 6, 3)
LONG_NAME = (
    "Société Coopérative d'Intérêt Collectif pour l'Accompagnement Numérique des Très "
    "Petites Entreprises de Provence-Alpes-Côte d'Azur"
)
ENGLISH = re.compile(r"\b(draft|exported|settled|pending|returned|cancelled|DBIT|CRDT)\b")


async def _paid_and_returned(database: Database, settings: Settings) -> tuple[int, str, str]:
    """Committed: a batch of two long-named experts, one paid and one returned; returns the
    batch id, the statement id and the accountant's e-mail."""
    tag = uuid.uuid4().hex[:8].upper()
    async with committed_programme(database) as programme:
        async with database.sessionmaker() as session, session.begin():
            accountant = await create_user(session, Role.accountant)
            experts = [
                await create_expert(session, name=f"{LONG_NAME} {n}") for n in ("Nord", "Sud")
            ]
            for n, expert in enumerate(experts):
                issued = await create_voucher(session, settings, programme=programme)
                body = RedemptionCreate(
                    token=issued.token,
                    coaching_date=paris_today(),
                    invoice_reference=f"FACTURE-{tag}-{n}-REFERENCE-SANS-ESPACE-TRES-LONGUE",
                )
                redemption, _ = await redeem(session, expert, body, settings)
                await session.execute(
                    update(Redemption)
                    .where(col(Redemption.id) == redemption.id)
                    .values(redeemed_at=datetime(2019, 6, 3, 10, tzinfo=UTC))
                )
            batch = await batches.create_batch(session, LONG_AGO)
            assert batch.id is not None
            await batches.export_batch(session, batch.id, settings)
            first, second = await repository.transfers_of(session, batch.id)
            entries = [
                StatementEntry(
                    t.amount_cents,
                    entry_ref=f"E{t.id}",
                    transactions=[StatementTransaction(t.end_to_end_id, t.amount_cents)],
                )
                for t in (first, second)
            ]
            entries.append(
                StatementEntry(
                    second.amount_cents,
                    credit_debit="CRDT",
                    entry_ref=f"R{second.id}",
                    bank_code=("PMNT", "ICDT", "RRTN"),
                    transactions=[
                        StatementTransaction(
                            second.end_to_end_id, second.amount_cents, return_reason="AC04"
                        )
                    ],
                )
            )
            statement_id = f"STMT-VUE-{tag}"
            await statements.import_statement(
                session, build_statement(entries, statement_id=statement_id), settings
            )
            # The returned redemption waits in a draft batch, not unpaid for other tests.
            await batches.create_batch(session, LONG_AGO)
    return batch.id, statement_id, accountant.email


# The elements that stick out of the phone's width, outside any box that scrolls them.
WIDE_ELEMENTS = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 390 && !e.parentElement.closest('.table-scroll'))
  .slice(0, 5).map(e => e.outerHTML.slice(0, 100))"""


async def _fits_the_phone(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    wide = await page.evaluate(WIDE_ELEMENTS)
    assert width <= 390, f"{page.url} is {width}px wide: {wide}"
    text = await page.locator("main").inner_text()
    assert ENGLISH.search(text) is None, ENGLISH.search(text)


FOCUSABLE_COUNT = """document.querySelectorAll(
  'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])').length"""


async def _tab_to(page: Page, name: str) -> None:
    """Press Tab until the link named ``name`` has the focus, then Enter: at most once per
    focusable element of the page (other tests may have left many batches listed)."""
    stops = await page.evaluate(FOCUSABLE_COUNT)
    for _ in range(stops + 2):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            "document.activeElement && document.activeElement.textContent.trim()"
        )
        if focused == name:
            await page.keyboard.press("Enter")
            return
    raise AssertionError(f"Tab never reached the link {name!r}")


async def test_batch_and_statement_views_on_a_phone(
    audited_page: Page,
    live_server: LiveServer,
    database: Database,
    settings: Settings,
) -> None:
    async with database.sessionmaker() as session:
        last = (await session.execute(select(func.max(Notification.id)))).scalar() or 0
    try:
        batch_id, statement_id, email = await _paid_and_returned(database, settings)
        await _browse(audited_page, live_server.url, batch_id, statement_id, email)
    finally:  # the e-mails of this data would show on the administrators' page of later tests
        async with database.sessionmaker() as session, session.begin():
            await session.execute(delete(Notification).where(col(Notification.id) > last))


async def _browse(page: Page, base: str, batch_id: int, statement_id: str, email: str) -> None:
    await log_in(page, base, email)
    assert await violations(page, f"{base}/accounting") == []
    await _fits_the_phone(page)

    cut_off = page.get_by_label("Prestations encaissées jusqu'au")
    await cut_off.fill("2019-01-01")
    await cut_off.press("Enter")
    refusal = page.get_by_role("alert")
    await refusal.wait_for()
    assert "Aucune prestation impayée au 01/01/2019" in await refusal.inner_text()
    assert await page.get_by_label("Prestations encaissées jusqu'au").input_value() == "2019-01-01"
    await _fits_the_phone(page)
    assert await audit(page) == []

    await page.goto(f"{base}/accounting")
    await _tab_to(page, f"Détail du lot n°{batch_id}")
    await page.get_by_role("heading", name=f"Lot de virements n°{batch_id}").wait_for()
    await _fits_the_phone(page)
    main = await page.locator("main").inner_text()
    assert f"{LONG_NAME} Nord" in main and "Retourné par la banque" in main
    assert "AC04 — Compte clôturé" in main and "Payé" in main
    assert await violations(page, page.url) == []

    await page.goto(f"{base}/accounting")
    await _tab_to(page, f"Détail des lignes du relevé {statement_id}")
    await page.get_by_role("heading", name=f"Relevé {statement_id}").wait_for()
    await _fits_the_phone(page)
    assert "Crédit" in await page.locator("main").inner_text()
    assert await violations(page, page.url) == []
