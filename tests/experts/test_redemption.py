"""Redemption through the API: every refusal has its code, retries replay, undo works."""

from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import Accreditation, PayoutState, Redemption, RedemptionAttempt
from tests.core.test_errors import assert_problem
from tests.fixtures.factories import bearer, create_expert
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.auth.models import User
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.vouchers.models import Voucher

URL = "/api/v1/redemptions"


def body(token: str, **extra: object) -> dict[str, object]:
    return {
        "token": token,
        "coaching_date": paris_today().isoformat(),
        "invoice_reference": "FAC-2027-001",
        **extra,
    }


async def expert_headers(
    session: AsyncSession, settings: Settings, status: Accreditation = Accreditation.accredited
) -> dict[str, str]:
    expert = await create_expert(session, status)
    user = await session.get(User, expert.user_id)
    assert user is not None
    return bearer(settings, user)


class TestRedeem:
    async def test_the_qr_url_redeems_the_whole_balance(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        url = f"{settings.public_url}/r/{issued.token}"
        response = await client.post(
            URL, json=body(url), headers=await expert_headers(session, settings)
        )
        assert response.status_code == 201, response.text
        done = response.json()
        assert done["amount_cents"] == issued.voucher.amount_cents
        assert done["voucher_balance_cents"] == 0 and done["payout_state"] == "unpaid"

    async def test_a_typed_code_works_too(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        typed = issued.code.lower().replace("-", " ")
        response = await client.post(
            URL, json=body(typed), headers=await expert_headers(session, settings)
        )
        assert response.status_code == 201, response.text

    async def test_twice_is_already_redeemed(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        headers = await expert_headers(session, settings)
        assert (await client.post(URL, json=body(issued.token), headers=headers)).status_code == 201
        again = await client.post(URL, json=body(issued.token), headers=headers)
        problem = assert_problem(again, 409, "already_redeemed")
        assert problem["redeemed_at"]

    async def test_partial_amounts_until_the_balance_is_spent(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        headers = await expert_headers(session, settings)
        first = await client.post(
            URL, json=body(issued.token, amount_cents=50_000), headers=headers
        )
        assert first.json()["voucher_balance_cents"] == 150_000
        too_much = await client.post(
            URL, json=body(issued.token, amount_cents=150_001), headers=headers
        )
        problem = assert_problem(too_much, 409, "insufficient_balance")
        assert problem["balance_cents"] == 150_000
        rest = await client.post(URL, json=body(issued.token), headers=headers)
        assert rest.json()["amount_cents"] == 150_000

    async def test_another_expert_cannot_continue_a_partial_cheque(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        first = await expert_headers(session, settings)
        await client.post(URL, json=body(issued.token, amount_cents=50_000), headers=first)
        other = await client.post(
            URL,
            json=body(issued.token, amount_cents=50_000),
            headers=await expert_headers(session, settings),
        )
        assert_problem(other, 409, "redeemed_by_another_expert")

    @pytest.mark.parametrize(
        "status", [Accreditation.pending, Accreditation.suspended, Accreditation.revoked]
    )
    async def test_experts_not_accredited_are_refused_and_recorded(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, status: Accreditation
    ) -> None:
        issued = await create_voucher(session, settings)
        response = await client.post(
            URL, json=body(issued.token), headers=await expert_headers(session, settings, status)
        )
        assert_problem(response, 403, "not_accredited")
        attempts = (
            (
                await session.execute(
                    select(col(RedemptionAttempt.code)).where(
                        col(RedemptionAttempt.presented) == issued.token[:200]
                    )
                )
            )
            .scalars()
            .all()
        )
        assert attempts == ["not_accredited"]

    async def test_expired_cancelled_forged_and_early_cheques(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        headers = await expert_headers(session, settings)
        expired = await create_voucher(session, settings)
        await _move_validity(session, expired.voucher, days=-400)
        early = await create_voucher(session, settings)
        await _move_validity(session, early.voucher, days=+10)
        cancelled = await create_voucher(session, settings)
        await session.execute(
            update(Voucher)
            .where(col(Voucher.id) == cancelled.voucher.id)
            .values(status="cancelled")
        )
        forged = cancelled.token[:-3] + ("AAA" if not cancelled.token.endswith("AAA") else "BBB")
        for token, status, code in (
            (expired.token, 410, "expired"),
            (cancelled.token, 410, "cancelled"),
            (early.token, 409, "not_yet_valid"),
            (forged, 422, "invalid_token"),
        ):
            response = await client.post(URL, json=body(token), headers=headers)
            assert_problem(response, status, code)

    async def test_many_refusals_slow_the_expert_down(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        headers = await expert_headers(session, settings)
        for n in range(settings.redemption_max_failures):
            await client.post(URL, json=body(f"MCD-AAAA-BBBB-{n}"), headers=headers)
        response = await client.post(URL, json=body("MCD-AAAA-BBBB-C"), headers=headers)
        assert_problem(response, 429, "too_many_failed_attempts")
        another = await expert_headers(session, settings)
        response = await client.post(URL, json=body("MCD-AAAA-BBBB-C"), headers=another)
        assert_problem(response, 422, "invalid_token")  # refused, not slowed down


class TestIdempotency:
    async def test_a_retry_with_the_same_key_replays(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        headers = {**await expert_headers(session, settings), "Idempotency-Key": "k-1"}
        first = await client.post(URL, json=body(issued.token), headers=headers)
        retry = await client.post(URL, json=body(issued.token), headers=headers)
        assert (retry.status_code, retry.json()) == (first.status_code, first.json())
        rows = (
            await session.execute(
                select(func.count())
                .select_from(Redemption)
                .where(col(Redemption.voucher_id) == issued.voucher.id)
            )
        ).scalar_one()
        assert rows == 1
        other = await client.post(
            URL, json=body(issued.token, invoice_reference="X"), headers=headers
        )
        assert_problem(other, 422, "idempotency_key_reused")


class TestUndo:
    async def test_within_the_window_the_balance_comes_back(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        headers = await expert_headers(session, settings)
        done = (await client.post(URL, json=body(issued.token), headers=headers)).json()
        undone = await client.post(f"{URL}/{done['id']}/cancel", headers=headers)
        assert undone.status_code == 200, undone.text
        assert undone.json()["status"] == "cancelled"
        assert undone.json()["voucher_balance_cents"] == issued.voucher.amount_cents
        again = await client.post(URL, json=body(issued.token), headers=headers)
        assert again.status_code == 201

    async def test_after_the_window_in_a_payout_or_by_someone_else(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        headers = await expert_headers(session, settings)
        ids = []
        for _ in range(3):
            issued = await create_voucher(session, settings)
            done = await client.post(URL, json=body(issued.token), headers=headers)
            ids.append(done.json()["id"])
        await session.execute(
            update(Redemption)
            .where(Redemption.id == ids[0])
            .values(redeemed_at=utcnow() - timedelta(hours=settings.redemption_undo_hours + 1))
        )
        await session.execute(
            update(Redemption)
            .where(Redemption.id == ids[1])
            .values(payout_state=PayoutState.batched)
        )
        session.expire_all()
        assert_problem(
            await client.post(f"{URL}/{ids[0]}/cancel", headers=headers), 409, "undo_window_closed"
        )
        assert_problem(
            await client.post(f"{URL}/{ids[1]}/cancel", headers=headers), 409, "in_payout"
        )
        stranger = await expert_headers(session, settings)
        assert_problem(
            await client.post(f"{URL}/{ids[2]}/cancel", headers=stranger),
            403,
            "not_your_redemption",
        )


class TestCheck:
    async def test_shows_balance_and_validity_without_personal_data(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        response = await client.post(
            f"{URL}/check",
            json={"token": issued.code},
            headers=await expert_headers(session, settings),
        )
        checked = response.json()
        assert checked["redeemable"] and checked["balance_cents"] == issued.voucher.amount_cents
        assert "beneficiary_email" not in checked and "siret" not in checked


async def _move_validity(session: AsyncSession, voucher: Voucher, days: int) -> None:
    await session.execute(
        update(Voucher)
        .where(col(Voucher.id) == voucher.id)
        .values(
            valid_from=voucher.valid_from + timedelta(days=days),
            valid_until=voucher.valid_until + timedelta(days=days),
        )
    )
    session.expire_all()
