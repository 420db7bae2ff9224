"""Four eyes on payments: under the deployment's setting (on in production), a batch
prepared by one person goes to the bank only after another admin or accountant approved
it; the person who prepared it cannot approve it, from the API as from the page."""

from html import unescape
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.fixtures.factories import bearer, create_user, session_cookie
from tests.payouts.test_batch_api import create
from tests.web.test_notifications_admin import csrf_of
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Environment, Settings
from voucher_service.payouts.models import PayoutBatch

HTML = {"accept": "text/html"}
PRODUCTION = {
    "env": Environment.production,
    "secret_key": "x" * 40,
    "database_url": "postgresql+asyncpg://u:p@db/mcd",
    "payout_debtor_iban": "FR1420041010050500013M02606",
    "payout_debtor_bic": "PSSTFRPPMAR",
    "registry_url": "https://recherche-entreprises.api.gouv.fr",
}


@pytest.fixture
def four_eyes(settings: Settings) -> Settings:
    settings.payout_four_eyes = True
    return settings


def test_on_by_default_in_production_only_and_a_setting_either_way() -> None:
    assert Settings(**PRODUCTION).payout_approval_required  # type: ignore[arg-type]
    assert not Settings(**PRODUCTION, payout_four_eyes=False).payout_approval_required  # type: ignore[arg-type]
    assert not Settings().payout_approval_required
    assert Settings(payout_four_eyes=True).payout_approval_required


async def test_a_second_person_approves_before_the_bank_file(
    client: AsyncClient,
    session: AsyncSession,
    four_eyes: Settings,
    two_experts: dict[str, Any],
) -> None:
    preparer = await create_user(session, Role.accountant)
    approver = await create_user(session, Role.admin)
    mine, theirs = bearer(four_eyes, preparer), bearer(four_eyes, approver)
    created = await create(client, mine)
    assert created.status_code == 201
    batch = created.json()
    assert batch["prepared_by_id"] == preparer.id and batch["approved_at"] is None
    path = f"/api/v1/payout-batches/{batch['id']}"
    early = await client.post(f"{path}/export", headers=mine)
    assert early.status_code == 409 and early.json()["code"] == "payout_batch_not_approved"
    own = await client.post(f"{path}/approve", headers=mine)
    assert own.status_code == 409 and own.json()["code"] == "payout_batch_same_approver"
    assert (await client.get(path, headers=mine)).json()["status"] == "draft"
    approved = await client.post(f"{path}/approve", headers=theirs)
    assert approved.status_code == 200
    assert approved.json()["approved_by_id"] == approver.id and approved.json()["approved_at"]
    again = await client.post(f"{path}/approve", headers=theirs)
    assert again.status_code == 200 and again.json() == approved.json()
    exported = await client.post(f"{path}/export", headers=mine)
    assert exported.status_code == 200 and exported.json()["status"] == "exported"
    late = await client.post(f"{path}/approve", headers=theirs)
    assert late.status_code == 409 and late.json()["code"] == "payout_batch_not_approvable"
    events = (
        await session.execute(
            select(AuditEvent).where(
                col(AuditEvent.entity_type) == "payout_batch",
                col(AuditEvent.entity_id) == str(batch["id"]),
                col(AuditEvent.action) == "payout_batch.approved",
            )
        )
    ).scalars()
    [event] = list(events)
    assert event.actor_id == approver.id
    assert event.before == {"approved_by_id": None}
    assert event.after is not None and event.after["approved_by_id"] == approver.id


async def test_without_four_eyes_the_preparer_exports_alone(
    client: AsyncClient, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    headers = bearer(settings, await create_user(session, Role.accountant))
    batch = (await create(client, headers)).json()
    exported = await client.post(f"/api/v1/payout-batches/{batch['id']}/export", headers=headers)
    assert exported.status_code == 200 and exported.json()["approved_at"] is None


async def page_as(client: AsyncClient, settings: Settings, user: User) -> str:
    client.cookies.set(SESSION_COOKIE, session_cookie(settings, user))
    page = await client.get("/accounting", headers=HTML)
    assert page.status_code == 200
    return page.text


async def test_the_page_asks_the_other_person_to_approve(
    client: AsyncClient,
    session: AsyncSession,
    four_eyes: Settings,
    two_experts: dict[str, Any],
) -> None:
    preparer = await create_user(session, Role.accountant)
    approver = await create_user(session, Role.accountant)
    text = await page_as(client, four_eyes, preparer)
    created = await client.post(
        "/accounting/batches",
        data={"cut_off": paris_today().isoformat(), "csrf_token": csrf_of(text)},
        headers=HTML,
    )
    batch_id = int(created.headers["location"].split("=")[1])
    text = (await client.get(created.headers["location"], headers=HTML)).text
    assert "Une seconde personne doit l'approuver" in unescape(text)
    assert f"Préparé par {preparer.email}" in text
    assert f'action="/accounting/batches/{batch_id}/export"' not in text
    assert f'action="/accounting/batches/{batch_id}/approve"' not in text
    refused = await client.post(
        f"/accounting/batches/{batch_id}/approve", data={"csrf_token": csrf_of(text)}, headers=HTML
    )
    assert refused.status_code == 409
    assert "approuvé par une autre personne que celle qui l'a préparé" in unescape(refused.text)
    text = await page_as(client, four_eyes, approver)
    assert f'action="/accounting/batches/{batch_id}/approve"' in text
    approved = await client.post(
        f"/accounting/batches/{batch_id}/approve", data={"csrf_token": csrf_of(text)}, headers=HTML
    )
    assert approved.headers["location"] == f"/accounting?approved={batch_id}"
    text = (await client.get(approved.headers["location"], headers=HTML)).text
    assert f"Le lot n°{batch_id} est approuvé" in text
    assert f"Approuvé par {approver.email}" in text
    assert f'action="/accounting/batches/{batch_id}/export"' in text
    batch = await session.get(PayoutBatch, batch_id)
    assert batch is not None and batch.approved_by_id == approver.id
