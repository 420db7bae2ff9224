"""Payout batches through the accountant's API: what each refusal says, which
redemptions a batch takes, and how batches are listed."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from experts.models import Expert
from tests.fixtures.factories import HeadersFor
from tests.payouts.conftest import redeemed
from tests.payouts.test_payouts import exported_at, file_fields
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.formatting import french_date
from voucher_service.payouts import batches


async def create(
    client: AsyncClient, headers: dict[str, str], cut_off: date | None = None
) -> Response:
    day = cut_off or paris_today()
    return await client.post(
        "/api/v1/payout-batches", json={"cut_off": day.isoformat()}, headers=headers
    )


class TestExport:
    async def test_reading_a_drafts_file_is_refused_and_leaves_it_cancellable(
        self, client: AsyncClient, headers_for: HeadersFor, two_experts: dict[str, Any]
    ) -> None:
        headers = await headers_for(Role.accountant)
        batch = (await create(client, headers)).json()
        path = f"/api/v1/payout-batches/{batch['id']}"
        for _ in range(2):
            sepa = await client.get(f"{path}/sepa.xml", headers=headers)
            assert sepa.status_code == 409
            assert sepa.headers["content-type"] == "application/problem+json"
            assert sepa.json()["code"] == "payout_batch_not_exported"
        assert (await client.get(path, headers=headers)).json()["status"] == "draft"
        cancelled = await client.post(f"{path}/cancel", headers=headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    async def test_exporting_moves_a_draft_once_and_every_download_is_the_same_file(
        self, client: AsyncClient, headers_for: HeadersFor, two_experts: dict[str, Any]
    ) -> None:
        headers = await headers_for(Role.accountant)
        batch = (await create(client, headers)).json()
        path = f"/api/v1/payout-batches/{batch['id']}"
        first = await client.post(f"{path}/export", headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "exported" and first.json()["exported_at"]
        again = await client.post(f"{path}/export", headers=headers)
        assert again.status_code == 200 and again.json() == first.json()
        files = [(await client.get(f"{path}/sepa.xml", headers=headers)) for _ in range(3)]
        assert [f.status_code for f in files] == [200] * 3
        assert len({f.content for f in files}) == 1
        assert (await client.get(path, headers=headers)).json() == first.json()

    async def test_an_unknown_batch_is_not_found(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        headers = await headers_for(Role.accountant)
        missing = await client.post("/api/v1/payout-batches/999999/export", headers=headers)
        assert missing.status_code == 404 and missing.json()["code"] == "payout_batch_not_found"


async def test_a_batch_takes_what_was_redeemed_up_to_its_cut_off_day(
    client: AsyncClient, headers_for: HeadersFor, two_experts: dict[str, Any]
) -> None:
    headers = await headers_for(Role.accountant)
    yesterday = paris_today() - timedelta(days=1)
    refused = await create(client, headers, yesterday)
    assert refused.status_code == 422
    assert refused.json()["code"] == "nothing_to_pay"
    assert refused.json()["detail"] == f"Aucune prestation impayée au {french_date(yesterday)}."
    created = await create(client, headers)
    assert created.status_code == 201
    batch = created.json()
    assert (batch["status"], batch["cut_off"], batch["total_cents"]) == (
        "draft",
        paris_today().isoformat(),
        450_000,
    )
    first, second = two_experts["first"], two_experts["second"]
    by_expert = {t["expert_id"]: t for t in batch["transfers"]}
    assert {k: by_expert[first.id][k] for k in ("amount_cents", "iban", "bic", "status")} == {
        "amount_cents": 250_000,
        "iban": first.iban,
        "bic": first.bic,
        "status": "pending",
    }
    assert by_expert[second.id]["amount_cents"] == 200_000
    assert by_expert[second.id]["creditor_name"] == second.legal_name
    again = await create(client, headers)
    assert again.status_code == 422 and again.json()["code"] == "nothing_to_pay"


async def test_an_expert_without_confirmed_bank_details_is_left_for_later(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    second = two_experts["second"]
    for field in ("iban", "bic"):
        await session.execute(update(Expert).where(Expert.id == second.id).values({field: ""}))
        headers = await headers_for(Role.accountant)
        batch = (await create(client, headers)).json()
        assert [t["expert_id"] for t in batch["transfers"]] == [two_experts["first"].id]
        cancelled = await client.post(
            f"/api/v1/payout-batches/{batch['id']}/cancel", headers=headers
        )
        assert cancelled.status_code == 200
        await session.execute(
            update(Expert).where(Expert.id == second.id).values(iban=second.iban, bic=second.bic)
        )


async def test_refusals_name_the_batch_and_its_state(
    client: AsyncClient, settings: Settings, headers_for: HeadersFor, two_experts: dict[str, Any]
) -> None:
    headers = await headers_for(Role.accountant)
    missing = await client.get("/api/v1/payout-batches/999999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "payout_batch_not_found"
    assert missing.json()["detail"] == "Aucun lot de virements n°999999."
    batch = (await create(client, headers)).json()
    await client.post(f"/api/v1/payout-batches/{batch['id']}/export", headers=headers)
    refused = await client.post(f"/api/v1/payout-batches/{batch['id']}/cancel", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "payout_batch_not_cancellable"
    assert "exported" in refused.text


async def test_a_cancelled_batch_gives_no_file_and_its_redemptions_go_to_the_next(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    headers = await headers_for(Role.accountant)
    batch = (await create(client, headers)).json()
    cancelled = await client.post(f"/api/v1/payout-batches/{batch['id']}/cancel", headers=headers)
    assert cancelled.json()["cancelled_at"] is not None
    sepa = await client.get(f"/api/v1/payout-batches/{batch['id']}/sepa.xml", headers=headers)
    assert sepa.status_code == 409 and sepa.json()["code"] == "payout_batch_cancelled"
    export = await client.post(f"/api/v1/payout-batches/{batch['id']}/export", headers=headers)
    assert export.status_code == 409 and export.json()["code"] == "payout_batch_cancelled"
    await redeemed(session, settings, two_experts["second"], amount=30_000)
    following = (await create(client, headers)).json()
    assert following["total_cents"] == 480_000
    listed = await client.get("/api/v1/payout-batches", params={"page_size": 1}, headers=headers)
    page = listed.json()
    assert page["total"] >= 2 and page["page_size"] == 1
    assert [b["id"] for b in page["items"]] == [following["id"]]
    second_page = await client.get(
        "/api/v1/payout-batches", params={"page_size": 1, "page": 2}, headers=headers
    )
    assert [b["id"] for b in second_page.json()["items"]] == [batch["id"]]
    assert second_page.json()["items"][0]["status"] == "cancelled"


async def test_a_file_asked_for_an_earlier_day_than_its_stamp_is_dated_that_day(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    """A clock set back (or a stamp from a wrong clock): the file takes the day asked."""
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    tuesday = datetime(2027, 6, 8, 8, 0, tzinfo=UTC)
    await batches.export_batch(session, batch.id, settings, now=tuesday)
    monday = await exported_at(session, batch.id, settings, tuesday - timedelta(days=1))
    assert file_fields(monday)["created"] == ["2027-06-07T10:00:00"]
    assert file_fields(monday)["execution"] == ["2027-06-07"]
    assert batch.file_created_at == tuesday - timedelta(days=1)
