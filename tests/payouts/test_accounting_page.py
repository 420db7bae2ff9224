"""The accountant's page: batches, the SEPA download, a statement upload, the exports."""

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.payouts.camt_builder import StatementEntry, build_statement
from tests.payouts.conftest import TODAY
from tests.web.test_notifications_admin import csrf_of, log_in
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.formatting import french_date
from voucher_service.payouts.business_days import requested_execution_date
from voucher_service.payouts.models import PayoutBatch

PAGE = "/accounting"
HTML = {"accept": "text/html"}


async def test_other_roles_are_refused(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    anonymous = await client.get(PAGE, headers=HTML)
    assert anonymous.status_code == 303
    await log_in(client, session, settings, Role.expert)
    assert (await client.get(PAGE, headers=HTML)).status_code == 403


async def test_an_accountant_pays_the_experts_from_the_page(
    client: AsyncClient, session: AsyncSession, settings: Settings, two_experts: dict
) -> None:
    await log_in(client, session, settings, Role.accountant)
    page = await client.get(PAGE, headers=HTML)
    assert page.status_code == 200 and "Nouveau lot de virements" in page.text
    csrf = csrf_of(page.text)
    refused = await client.post(
        f"{PAGE}/batches", data={"cut_off": TODAY.isoformat()}, headers=HTML
    )
    assert refused.status_code == 403
    created = await client.post(
        f"{PAGE}/batches", data={"cut_off": TODAY.isoformat(), "csrf_token": csrf}, headers=HTML
    )
    assert created.status_code == 303, created.text
    batch_id = int(created.headers["location"].split("=")[1])
    listing = await client.get(created.headers["location"], headers=HTML)
    assert f"Le lot de virements n°{batch_id} est créé" in listing.text
    sepa = await client.get(f"{PAGE}/batches/{batch_id}/sepa.xml")
    assert sepa.status_code == 200 and b"pain.001.001.03" in sepa.content
    batch = await session.get(PayoutBatch, batch_id)
    assert batch is not None
    await session.refresh(batch)
    assert batch.file_created_at is not None
    execution = requested_execution_date(batch.file_created_at, settings.payout_cutoff_hour)
    assert f"<ReqdExctnDt>{execution.isoformat()}</ReqdExctnDt>" in sepa.text
    listing = await client.get(PAGE, headers=HTML)
    assert f"exécution demandée le {french_date(execution)}" in listing.text
    statement = build_statement(
        [StatementEntry(batch.total_cents, batch_message_id=batch.message_id)],
        statement_id=f"STMT-PAGE-{batch_id}",
    )
    uploaded = await client.post(
        f"{PAGE}/statements",
        data={"csrf_token": csrf},
        files={"file": ("releve.xml", statement, "application/xml")},
        headers=HTML,
    )
    assert uploaded.status_code == 200, uploaded.text
    assert "virement(s) réglé(s)" in uploaded.text and "Réglé" in uploaded.text
    period = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    csv = await client.get(f"{PAGE}/exports/reconciliation.csv", params=period)
    assert csv.status_code == 200 and csv.content.startswith("\ufeffCode".encode())
    fec = await client.get(f"{PAGE}/exports/fec.txt", params=period)
    assert fec.status_code == 200 and fec.content.startswith(b"JournalCode|")
