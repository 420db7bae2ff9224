"""Redemption through the API: every refusal has its code, retries replay, undo works."""

from datetime import datetime, timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import Accreditation, Expert, PayoutState, Redemption, RedemptionAttempt
from notifications import payload, rendering
from notifications.models import Notification
from notifications.rendering import RenderedMessage
from tests.core.test_errors import assert_problem
from tests.fixtures.factories import bearer, create_expert, create_user
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.formatting import paris_datetime
from voucher_service.core.ledger import LedgerEntry
from voucher_service.vouchers.models import Voucher
from voucher_service.vouchers.service import IssuedVoucher

URL = "/api/v1/redemptions"
NOT_ALLOWED_TO_REDEEM = [Accreditation.pending, Accreditation.suspended, Accreditation.revoked]


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


NotAllowed = tuple[dict[str, str], IssuedVoucher]


@pytest.fixture(params=NOT_ALLOWED_TO_REDEEM, ids=str)
async def not_allowed(
    request: pytest.FixtureRequest, session: AsyncSession, settings: Settings
) -> NotAllowed:
    """The bearer headers of an expert who may not redeem (pending, suspended, revoked),
    and a cheque."""
    return await expert_headers(session, settings, request.param), await create_voucher(
        session, settings
    )


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

    async def test_the_coaching_date_lies_between_the_issue_day_and_today(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        voucher_id = issued.voucher.id
        await session.execute(
            update(Voucher)
            .where(col(Voucher.id) == voucher_id)
            .values(issued_at=utcnow() - timedelta(days=5))
        )
        session.expire_all()
        voucher = await session.get(Voucher, voucher_id)
        assert voucher is not None
        issued_on, today = paris_today(voucher.issued_at), paris_today()
        headers = await expert_headers(session, settings)
        for day, detail in (
            ("1900-01-01", "précéder l'émission du chèque, le "),
            ((issued_on - timedelta(days=1)).isoformat(), issued_on.strftime("%d/%m/%Y")),
            ((today + timedelta(days=1)).isoformat(), "ne peut pas être future"),
            ("2099-12-31", "ne peut pas être future"),
        ):
            refused = await client.post(
                URL, json=body(issued.token, coaching_date=day), headers=headers
            )
            problem = assert_problem(refused, 422, "invalid_coaching_date")
            assert detail in problem["detail"], day
            assert problem["errors"][0]["loc"] == ["body", "coaching_date"]
        accepted = await client.post(
            URL, json=body(issued.token, coaching_date=issued_on.isoformat()), headers=headers
        )
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["coaching_date"] == issued_on.isoformat()

    async def test_experts_not_accredited_are_refused_and_recorded(
        self, client: AsyncClient, session: AsyncSession, not_allowed: NotAllowed
    ) -> None:
        headers, issued = not_allowed
        response = await client.post(URL, json=body(issued.token), headers=headers)
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

    async def test_an_expert_not_allowed_to_redeem_reads_nothing(
        self, client: AsyncClient, not_allowed: NotAllowed
    ) -> None:
        headers, issued = not_allowed
        response = await client.post(f"{URL}/check", json={"token": issued.token}, headers=headers)
        problem = assert_problem(response, 403, "not_accredited")
        assert issued.voucher.company_name not in response.text
        assert "balance_cents" not in problem and "amount_cents" not in problem


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


async def expert_and_headers(
    session: AsyncSession, settings: Settings
) -> tuple[Expert, dict[str, str]]:
    expert = await create_expert(session)
    user = await session.get(User, expert.user_id)
    assert user is not None
    return expert, bearer(settings, user)


async def refusals(session: AsyncSession, expert_id: int | None) -> list[tuple[str, str]]:
    query = select(col(RedemptionAttempt.presented), col(RedemptionAttempt.code)).where(
        col(RedemptionAttempt.expert_id) == expert_id
    )
    rows = await session.execute(query.order_by(col(RedemptionAttempt.id)))
    return [(presented, code) for presented, code in rows]


async def audit_events(session: AsyncSession, redemption_id: int) -> list[tuple[object, ...]]:
    query = select(
        col(AuditEvent.action),
        col(AuditEvent.entity_type),
        col(AuditEvent.before),
        col(AuditEvent.after),
    ).where(
        col(AuditEvent.entity_type) == "redemption", col(AuditEvent.entity_id) == str(redemption_id)
    )
    return [tuple(row) for row in await session.execute(query.order_by(col(AuditEvent.id)))]


async def mail_to(
    session: AsyncSession, recipient: str, event: str, voucher_code: str
) -> RenderedMessage:
    """The one message of that event about that cheque (the beneficiary's address is the
    same for every test cheque, and other tests commit theirs)."""
    query = select(Notification).where(
        col(Notification.recipient) == recipient, col(Notification.event) == event
    )
    (data,) = [
        data
        for queued in (await session.execute(query)).scalars()
        if (data := payload.decode(queued.data))["voucher_code"] == voucher_code
    ]
    return rendering.render(event, data)


class TestThrottle:
    async def test_the_429_says_when_to_come_back(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert, headers = await expert_and_headers(session, settings)
        for n in range(settings.redemption_max_failures):
            await client.post(URL, json=body(f"MCD-AAAA-BBBB-{n}"), headers=headers)
        await session.execute(  # as if they had been refused four minutes ago
            update(RedemptionAttempt)
            .where(col(RedemptionAttempt.expert_id) == expert.id)
            .values(attempted_at=utcnow() - timedelta(minutes=4))
        )
        response = await client.post(URL, json=body("MCD-AAAA-BBBB-C"), headers=headers)
        assert_problem(response, 429, "too_many_failed_attempts")
        left = (settings.redemption_failure_window_minutes - 4) * 60
        assert left - 5 < int(response.headers["Retry-After"]) <= left
        # The slowed-down attempt is not a refusal of its own: the window does not grow.
        assert len(await refusals(session, expert.id)) == settings.redemption_max_failures

    async def test_one_refusal_short_of_the_limit_still_tries(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        _, headers = await expert_and_headers(session, settings)
        for n in range(settings.redemption_max_failures - 1):
            await client.post(URL, json=body(f"MCD-AAAA-BBBB-{n}"), headers=headers)
        issued = await create_voucher(session, settings)
        response = await client.post(URL, json=body(issued.token), headers=headers)
        assert response.status_code == 201, response.text

    async def test_refusals_older_than_the_window_no_longer_count(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert, headers = await expert_and_headers(session, settings)
        for n in range(settings.redemption_max_failures):
            await client.post(URL, json=body(f"MCD-AAAA-BBBB-{n}"), headers=headers)
        window = timedelta(minutes=settings.redemption_failure_window_minutes)
        await session.execute(
            update(RedemptionAttempt)
            .where(col(RedemptionAttempt.expert_id) == expert.id)
            .values(attempted_at=utcnow() - window - timedelta(minutes=1))
        )
        response = await client.post(URL, json=body("MCD-AAAA-BBBB-C"), headers=headers)
        assert_problem(response, 422, "invalid_token")

    async def test_a_long_refused_token_is_kept_to_200_characters(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        expert, headers = await expert_and_headers(session, settings)
        presented = "MCD-" + "A" * 396
        response = await client.post(URL, json=body(presented), headers=headers)
        problem = assert_problem(response, 422, "invalid_token")
        assert await refusals(session, expert.id) == [(presented[:200], problem["code"])]

    async def test_a_user_who_is_not_an_expert(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.expert)
        issued = await create_voucher(session, settings)
        response = await client.post(URL, json=body(issued.token), headers=bearer(settings, user))
        problem = assert_problem(response, 404, "expert_not_found")
        assert problem["detail"] == "Ce compte n'est rattaché à aucun expert."


class TestWhatRedeemingLeaves:
    async def test_audit_events_of_a_redemption_and_its_undo(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        headers = await expert_headers(session, settings)
        taken = body(issued.token, amount_cents=50_000, invoice_reference="FAC-2027-042")
        done = (await client.post(URL, json=taken, headers=headers)).json()
        created = {
            "voucher": issued.code,
            "amount_cents": 50_000,
            "invoice_reference": "FAC-2027-042",
        }
        assert await audit_events(session, done["id"]) == [
            ("redemption.created", "redemption", None, created)
        ]
        await client.post(f"{URL}/{done['id']}/cancel", headers=headers)
        assert await audit_events(session, done["id"]) == [
            ("redemption.created", "redemption", None, created),
            ("redemption.cancelled", "redemption", {"status": "active"}, {"status": "cancelled"}),
        ]

    async def test_the_expert_receipt_gives_the_undo_deadline(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        expert, headers = await expert_and_headers(session, settings)
        taken = body(issued.token, amount_cents=50_000, invoice_reference="FAC-2027-043")
        done = (await client.post(URL, json=taken, headers=headers)).json()
        redeemed_at = datetime.fromisoformat(done["redeemed_at"])
        deadline = redeemed_at + timedelta(hours=settings.redemption_undo_hours)
        assert datetime.fromisoformat(done["cancel_until"]) == deadline

        receipt = await mail_to(session, expert.email, "redemption_receipt", issued.code)
        assert f"jusqu'au {paris_datetime(deadline)}" in receipt.text
        assert f"Encaissé le : {paris_datetime(redeemed_at)}" in receipt.text
        assert "Votre facture : FAC-2027-043" in receipt.text
        assert issued.code in receipt.subject and "500,00" in receipt.subject
        told = await mail_to(
            session, issued.voucher.beneficiary_email, "voucher_redeemed", issued.code
        )
        assert "Montant utilisé : 500,00" in told.text.replace("\u202f", " ")
        assert "Solde restant : 1 500,00" in told.text.replace("\u202f", " ")

    async def test_the_ledger_books_the_expense_and_its_mirror(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        expert, headers = await expert_and_headers(session, settings)
        taken = body(issued.token, amount_cents=50_000, invoice_reference="FAC-2027-044")
        done = (await client.post(URL, json=taken, headers=headers)).json()
        await client.post(f"{URL}/{done['id']}/cancel", headers=headers)
        source = f"redemption:{done['id']}"
        query = select(LedgerEntry).where(
            LedgerEntry.source.in_([source, f"{source}:cancelled"])  # type: ignore[attr-defined]
        )
        booked, mirror = (await session.execute(query.order_by(col(LedgerEntry.id)))).scalars()
        assert (booked.label, mirror.label) == (
            f"Chèque {issued.code} prestation",
            f"Chèque {issued.code} prestation annulée",
        )
        assert booked.piece_ref == mirror.piece_ref == "FAC-2027-044"
        assert booked.amount_cents == mirror.amount_cents == 50_000
        assert (booked.credit_aux, mirror.debit_aux) == (f"E{expert.id:06d}",) * 2
        assert mirror.reverses_id == booked.id

    async def test_the_expert_is_told_of_the_undo(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        expert, headers = await expert_and_headers(session, settings)
        done = (await client.post(URL, json=body(issued.token), headers=headers)).json()
        undone = (await client.post(f"{URL}/{done['id']}/cancel", headers=headers)).json()
        assert undone["cancelled_at"] is not None
        assert datetime.fromisoformat(undone["cancelled_at"]) >= datetime.fromisoformat(
            done["redeemed_at"]
        )
        told = await mail_to(session, expert.email, "redemption_cancelled", issued.code)
        assert issued.code in told.text


class TestUndoRules:
    async def test_unknown_and_already_cancelled_redemptions(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        headers = await expert_headers(session, settings)
        done = (await client.post(URL, json=body(issued.token), headers=headers)).json()
        assert (await client.post(f"{URL}/{done['id']}/cancel", headers=headers)).is_success
        again = await client.post(f"{URL}/{done['id']}/cancel", headers=headers)
        assert_problem(again, 409, "redemption_cancelled")
        unknown = await client.post(f"{URL}/{done['id'] + 1000}/cancel", headers=headers)
        assert_problem(unknown, 404, "redemption_not_found")

    async def test_just_inside_the_window_still_undoes(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        headers = await expert_headers(session, settings)
        done = (await client.post(URL, json=body(issued.token), headers=headers)).json()
        almost = timedelta(hours=settings.redemption_undo_hours) - timedelta(minutes=5)
        await session.execute(
            update(Redemption)
            .where(Redemption.id == done["id"])
            .values(redeemed_at=utcnow() - almost)
        )
        session.expire_all()
        undone = await client.post(f"{URL}/{done['id']}/cancel", headers=headers)
        assert undone.status_code == 200, undone.text

    async def test_the_undo_sees_a_batch_that_claimed_the_row_meanwhile(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        """A payout batch works in its own transaction: whatever this session remembers of
        the redemption, the undo decides on the row as the database has it."""
        issued = await create_voucher(session, settings)
        headers = await expert_headers(session, settings)
        done = (await client.post(URL, json=body(issued.token), headers=headers)).json()
        remembered = await session.get(Redemption, done["id"])  # as a page read it earlier
        assert remembered is not None and remembered.payout_state is PayoutState.unpaid
        claimed = (
            update(Redemption)
            .where(Redemption.id == done["id"])
            .values(payout_state=PayoutState.batched)
            .execution_options(synchronize_session=False)
        )
        await session.execute(claimed)
        undo = await client.post(f"{URL}/{done['id']}/cancel", headers=headers)
        assert_problem(undo, 409, "in_payout")
        assert remembered.payout_state is PayoutState.batched  # type: ignore[comparison-overlap]

    async def test_after_an_undo_another_expert_may_take_a_part(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        first, second = (
            await expert_headers(session, settings),
            await expert_headers(session, settings),
        )
        part = body(issued.token, amount_cents=50_000)
        done = (await client.post(URL, json=part, headers=first)).json()
        assert (await client.post(f"{URL}/{done['id']}/cancel", headers=first)).is_success
        taken = await client.post(URL, json=part, headers=second)
        assert taken.status_code == 201, taken.text
        assert taken.json()["voucher_balance_cents"] == 150_000
        # Its second part is looked at: the first expert's undone part is not in the way.
        again = await client.post(URL, json=part, headers=second)
        assert again.status_code == 201, again.text
        assert again.json()["voucher_balance_cents"] == 100_000

    async def test_partial_cheques_of_two_experts_do_not_mix(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        mine, theirs = (
            await create_voucher(session, settings),
            await create_voucher(session, settings),
        )
        me, them = await expert_headers(session, settings), await expert_headers(session, settings)
        for issued, headers in ((theirs, them), (mine, me), (mine, me)):
            part = body(issued.token, amount_cents=50_000)
            taken = await client.post(URL, json=part, headers=headers)
            assert taken.status_code == 201, taken.text
        assert taken.json()["voucher_balance_cents"] == 100_000


class TestListAndCheck:
    async def test_the_list_shows_the_newest_first_with_its_deadline(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        headers = await expert_headers(session, settings)
        ids, codes = [], []
        for reference in ("FAC-A", "FAC-B"):
            issued = await create_voucher(session, settings)
            taken = body(issued.token, invoice_reference=reference)
            ids.append((await client.post(URL, json=taken, headers=headers)).json()["id"])
            codes.append(issued.code)
        await session.execute(
            update(Redemption)
            .where(Redemption.id == ids[0])
            .values(redeemed_at=utcnow() - timedelta(hours=1))
        )
        session.expire_all()
        listed = (await client.get(URL, headers=headers)).json()
        assert [row["id"] for row in listed] == [ids[1], ids[0]]
        assert [row["invoice_reference"] for row in listed] == ["FAC-B", "FAC-A"]
        assert [row["voucher_code"] for row in listed] == codes[::-1]
        for row in listed:
            deadline = datetime.fromisoformat(row["redeemed_at"]) + timedelta(
                hours=settings.redemption_undo_hours
            )
            assert datetime.fromisoformat(row["cancel_until"]) == deadline
            assert row["company_name"] == "Atelier Calanques SARL"
        other = await expert_headers(session, settings)
        assert (await client.get(URL, headers=other)).json() == []

    async def test_the_list_stops_at_the_200_latest(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        expert, headers = await expert_and_headers(session, settings)
        assert expert.id is not None and issued.voucher.id is not None
        start = utcnow() - timedelta(days=30)
        session.add_all(
            Redemption(
                voucher_id=issued.voucher.id,
                expert_id=expert.id,
                amount_cents=100,
                coaching_date=paris_today(),
                invoice_reference=f"FAC-{n:03d}",
                redeemed_at=start + timedelta(minutes=n),
            )
            for n in range(201)
        )
        await session.flush()
        listed = (await client.get(URL, headers=headers)).json()
        assert len(listed) == 200
        assert listed[0]["invoice_reference"] == "FAC-200"
        assert listed[-1]["invoice_reference"] == "FAC-001"  # the oldest is left out

    async def test_a_fresh_cheque_checked_in_full(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        voucher = issued.voucher
        response = await client.post(
            f"{URL}/check",
            json={"token": issued.token},
            headers=await expert_headers(session, settings),
        )
        assert response.json() == {
            "code": issued.code,
            "company_name": "Atelier Calanques SARL",
            "amount_cents": voucher.amount_cents,
            "balance_cents": voucher.amount_cents,
            "valid_from": voucher.valid_from.isoformat(),
            "valid_until": voucher.valid_until.isoformat(),
            "status": "issued",
            "redeemable": True,
            "reason": None,
        }

    async def test_why_a_cheque_cannot_be_redeemed(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        headers = await expert_headers(session, settings)
        early = await create_voucher(session, settings)
        first_day = (early.voucher.valid_from + timedelta(days=10)).strftime("%d/%m/%Y")
        await _move_validity(session, early.voucher, days=+10)
        spent = await create_voucher(session, settings)
        await client.post(URL, json=body(spent.token), headers=headers)
        # Past its last day, not yet swept: still "issued" in the database.
        late = await create_voucher(
            session, settings, valid_until=paris_today() - timedelta(days=1)
        )
        answers = {}
        for issued in (early, spent, late):
            response = await client.post(
                f"{URL}/check", json={"token": issued.code}, headers=headers
            )
            answers[issued.code] = response.json()
        assert answers[early.code]["redeemable"] is False
        assert answers[early.code]["reason"] == f"Valable à partir du {first_day}."
        assert answers[spent.code]["redeemable"] is False
        assert answers[spent.code]["status"] == "redeemed"
        assert answers[spent.code]["reason"] == "Chèque déjà utilisé."
        assert (answers[late.code]["status"], answers[late.code]["redeemable"]) == (
            "expired",
            False,
        )
        assert answers[late.code]["reason"] == "Chèque expiré."
