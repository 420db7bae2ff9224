"""take_amount and give_back: single use, never overdrawn, validity in Paris days."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import payload, rendering
from notifications.models import Notification
from tests.fixtures.factories import create_programme
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.audit import AuditEvent
from voucher_service.core.clock import PARIS, paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.core.errors import ServiceError
from voucher_service.vouchers import service
from voucher_service.vouchers.errors import (
    AlreadyRedeemed,
    InsufficientBalance,
    InvalidAmount,
    NothingToGiveBack,
    VoucherAlreadyPaid,
    VoucherCancelled,
    VoucherExpired,
    VoucherNotCancellable,
    VoucherNotFound,
    VoucherNotYetValid,
    VouchersNotPaid,
    VouchersNotPayable,
)
from voucher_service.vouchers.models import Voucher, VoucherEvent, VoucherStatus
from voucher_service.vouchers.validity import end_of_validity, last_valid_day


async def history(session: AsyncSession, voucher_id: int) -> list[str]:
    query = select(col(VoucherEvent.action)).where(col(VoucherEvent.voucher_id) == voucher_id)
    return list((await session.execute(query.order_by(col(VoucherEvent.id)))).scalars())


class TestTakeAmount:
    async def test_full_redemption_then_refused(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        voucher = (await create_voucher(session, settings)).voucher
        assert voucher.id is not None
        taken = await service.take_amount(session, voucher.id, voucher.amount_cents, paris_today())
        assert (taken.status, taken.balance_cents) == (VoucherStatus.redeemed, 0)
        assert taken.redeemed_at is not None
        with pytest.raises(AlreadyRedeemed) as refused:
            await service.take_amount(session, voucher.id, 1, paris_today())
        assert refused.value.status == 409
        assert refused.value.extra["redeemed_at"] == taken.redeemed_at.isoformat()
        assert await history(session, voucher.id) == ["issued", "redeemed"]

    async def test_partial_amounts_never_overdraw(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        voucher = (await create_voucher(session, settings)).voucher
        assert voucher.id is not None
        first = await service.take_amount(session, voucher.id, 150_000, paris_today())
        assert (first.status, first.balance_cents) == (VoucherStatus.partially_redeemed, 50_000)
        with pytest.raises(InsufficientBalance) as refused:
            await service.take_amount(session, voucher.id, 50_001, paris_today())
        assert refused.value.extra == {"balance_cents": 50_000}
        last = await service.take_amount(session, voucher.id, 50_000, paris_today())
        assert (last.status, last.balance_cents) == (VoucherStatus.redeemed, 0)

    async def test_not_yet_valid_is_not_expired(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        later = paris_today() + timedelta(days=3)
        voucher = (await create_voucher(session, settings, valid_from=later)).voucher
        with pytest.raises(VoucherNotYetValid) as refused:
            await service.take_amount(session, voucher.id or 0, 100, paris_today())
        assert (refused.value.code, refused.value.status) == ("not_yet_valid", 409)
        assert refused.value.extra == {"valid_from": later.isoformat()}

    async def test_expired_cancelled_unknown_and_bad_amounts(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        yesterday = paris_today() - timedelta(days=1)
        expired = (await create_voucher(session, settings, valid_until=yesterday)).voucher
        with pytest.raises(VoucherExpired) as refused:
            await service.take_amount(session, expired.id or 0, 100, paris_today())
        assert (refused.value.code, refused.value.status) == ("expired", 410)
        cancelled = (await create_voucher(session, settings)).voucher
        await service.cancel(session, cancelled.id or 0, "Doublon de demande")
        with pytest.raises(VoucherCancelled) as refused_cancelled:
            await service.take_amount(session, cancelled.id or 0, 100, paris_today())
        assert (refused_cancelled.value.code, refused_cancelled.value.status) == ("cancelled", 410)
        with pytest.raises(VoucherNotFound):
            await service.take_amount(session, 987_654_321, 100, paris_today())
        for amount in (0, -5):
            with pytest.raises(InvalidAmount):
                await service.take_amount(session, expired.id or 0, amount, paris_today())


@pytest.mark.parametrize(
    ("last_day", "end_utc"),
    [
        # the night before summer time starts (28 March 2027): midnight is 23:00 UTC
        (date(2027, 3, 27), datetime(2027, 3, 27, 23, 0, tzinfo=UTC)),
        # the night before winter time comes back (31 October 2027): midnight is 22:00 UTC
        (date(2027, 10, 30), datetime(2027, 10, 30, 22, 0, tzinfo=UTC)),
    ],
)
class TestLastDayInParis:
    async def test_valid_at_23_59_not_at_midnight(
        self, session: AsyncSession, settings: Settings, last_day: date, end_utc: datetime
    ) -> None:
        assert end_of_validity(last_day) == end_utc
        last_minute = datetime.combine(last_day, datetime.min.time(), PARIS).replace(
            hour=23, minute=59
        )
        midnight = end_utc.astimezone(PARIS)
        assert (midnight.hour, midnight.minute, midnight.date()) == (0, 0, last_day + timedelta(1))
        assert last_minute.astimezone(UTC) == end_utc - timedelta(minutes=1)
        voucher = (
            await create_voucher(
                session, settings, valid_from=last_day - timedelta(days=30), valid_until=last_day
            )
        ).voucher
        assert voucher.id is not None
        with pytest.raises(VoucherExpired):
            await service.take_amount(session, voucher.id, 1_000, paris_today(midnight))
        assert voucher.status_on(paris_today(midnight)) is VoucherStatus.expired
        taken = await service.take_amount(session, voucher.id, 1_000, paris_today(last_minute))
        assert taken.status is VoucherStatus.partially_redeemed
        assert paris_today(end_utc - timedelta(seconds=1)) == last_day


class TestGiveBack:
    async def test_undo_restores_the_balance(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        voucher = (await create_voucher(session, settings)).voucher
        assert voucher.id is not None
        await service.take_amount(session, voucher.id, 50_000, paris_today())
        await service.take_amount(session, voucher.id, 150_000, paris_today())
        with pytest.raises(NothingToGiveBack):
            await service.give_back(session, voucher.id, 200_001)
        undone = await service.give_back(session, voucher.id, 150_000)
        assert (undone.status, undone.balance_cents) == (VoucherStatus.partially_redeemed, 150_000)
        assert undone.redeemed_at is None
        undone = await service.give_back(session, voucher.id, 50_000)
        assert (undone.status, undone.balance_cents) == (VoucherStatus.issued, 200_000)
        with pytest.raises(NothingToGiveBack):
            await service.give_back(session, voucher.id, 1)

    async def test_paid_cheques_cannot_be_undone(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        voucher = (await create_voucher(session, settings)).voucher
        assert voucher.id is not None
        await service.take_amount(session, voucher.id, voucher.amount_cents, paris_today())
        await service.mark_paid(session, [voucher.id])
        with pytest.raises(VoucherAlreadyPaid):
            await service.give_back(session, voucher.id, voucher.amount_cents)


class TestPayment:
    async def test_paid_and_back_all_or_none(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        redeemed = [(await create_voucher(session, settings)).voucher for _ in range(2)]
        unused = (await create_voucher(session, settings)).voucher
        ids = [voucher.id or 0 for voucher in redeemed]
        for voucher in redeemed:
            await service.take_amount(session, voucher.id or 0, voucher.amount_cents, paris_today())
        with pytest.raises(VouchersNotPayable) as refused:
            await service.mark_paid(session, [*ids, unused.id or 0])
        assert refused.value.extra == {"voucher_ids": [unused.id]}
        assert {(await session.get_one(Voucher, i)).status for i in ids} == {VoucherStatus.redeemed}
        paid = await service.mark_paid(session, ids)
        assert [(v.status, v.paid_at is not None) for v in paid] == [(VoucherStatus.paid, True)] * 2
        unpaid = await service.mark_unpaid(session, ids)
        assert [(v.status, v.paid_at) for v in unpaid] == [(VoucherStatus.redeemed, None)] * 2
        assert await history(session, ids[0]) == ["issued", "redeemed", "paid", "unpaid"]


class TestContention:
    """Separate sessions on committed data: the database alone decides who wins."""

    async def committed_voucher(self, database: Database, settings: Settings) -> Voucher:
        async with database.sessionmaker() as session, session.begin():
            programme = await create_programme(session)
            return (await create_voucher(session, settings, programme)).voucher

    async def take_in_own_session(
        self, database: Database, voucher_id: int, amount: int
    ) -> Voucher | ServiceError:
        try:
            async with database.sessionmaker() as session, session.begin():
                return await service.take_amount(session, voucher_id, amount, paris_today())
        except ServiceError as refused:
            return refused

    async def test_twenty_scans_one_redemption(
        self, database: Database, settings: Settings
    ) -> None:
        voucher = await self.committed_voucher(database, settings)
        assert voucher.id is not None
        outcomes = await asyncio.gather(
            *(
                self.take_in_own_session(database, voucher.id, voucher.amount_cents)
                for _ in range(20)
            )
        )
        winners = [outcome for outcome in outcomes if isinstance(outcome, Voucher)]
        assert len(winners) == 1
        assert {type(outcome) for outcome in outcomes if outcome not in winners} == {
            AlreadyRedeemed
        }
        async with database.sessionmaker() as session:
            stored = await session.get(Voucher, voucher.id)
            assert stored is not None and (stored.status, stored.balance_cents) == (
                VoucherStatus.redeemed,
                0,
            )
            assert (await history(session, voucher.id)).count("redeemed") == 1

    async def test_a_session_that_looked_at_the_cheque_hears_the_real_reason(
        self, database: Database, settings: Settings
    ) -> None:
        """A redemption reads the cheque before it takes it; when another one spent it in
        between, the refusal is said from the row as it is now, not from what was read."""
        voucher = await self.committed_voucher(database, settings)
        assert voucher.id is not None
        async with database.sessionmaker() as late:
            async with late.begin():
                seen = await service.resolve(late, voucher.code, settings)
                assert seen.status is VoucherStatus.issued
            winner = await self.take_in_own_session(database, voucher.id, voucher.amount_cents)
            assert isinstance(winner, Voucher) and winner.redeemed_at is not None
            async with late.begin():
                with pytest.raises(AlreadyRedeemed) as refused:
                    await service.take_amount(late, voucher.id, 1_000, paris_today())
        assert refused.value.extra == {"redeemed_at": winner.redeemed_at.isoformat()}

    async def test_concurrent_partial_amounts_never_overdraw(
        self, database: Database, settings: Settings
    ) -> None:
        voucher = await self.committed_voucher(database, settings)
        assert voucher.id is not None
        part = 60_000  # three fit in 200 000, the fourth does not
        outcomes = await asyncio.gather(
            *(self.take_in_own_session(database, voucher.id, part) for _ in range(20))
        )
        taken = [outcome for outcome in outcomes if isinstance(outcome, Voucher)]
        refused = [outcome for outcome in outcomes if not isinstance(outcome, Voucher)]
        assert len(taken) == 3
        assert {type(outcome) for outcome in refused} == {InsufficientBalance}
        async with database.sessionmaker() as session:
            stored = await session.get(Voucher, voucher.id)
            assert stored is not None and stored.balance_cents == 20_000
            assert stored.status is VoucherStatus.partially_redeemed


@pytest.mark.parametrize(
    "last_day", [date(2027, 5, 29), date(2027, 3, 27), date(2027, 3, 28), date(2027, 10, 31)]
)
def test_the_last_valid_day_is_read_back_from_the_end_of_validity(last_day: date) -> None:
    """What a token says (the instant validity ends) gives back the day the PDF prints,
    summer or winter time, on the nights the clocks change too."""
    assert last_valid_day(end_of_validity(last_day)) == last_day


async def trail(session: AsyncSession, voucher_id: int) -> list[tuple[object, ...]]:
    """The cheque's audit events after its issuance: action, before, after."""
    query = select(col(AuditEvent.action), col(AuditEvent.before), col(AuditEvent.after)).where(
        col(AuditEvent.entity_type) == "voucher",
        col(AuditEvent.entity_id) == str(voucher_id),
        col(AuditEvent.action) != "voucher.issued",
    )
    return [tuple(row) for row in await session.execute(query.order_by(col(AuditEvent.id)))]


async def steps(session: AsyncSession, voucher_id: int) -> list[tuple[object, ...]]:
    query = select(
        col(VoucherEvent.action),
        col(VoucherEvent.status),
        col(VoucherEvent.amount_cents),
        col(VoucherEvent.balance_cents),
        col(VoucherEvent.reason),
    ).where(col(VoucherEvent.voucher_id) == voucher_id)
    return [tuple(row) for row in await session.execute(query.order_by(col(VoucherEvent.id)))]


def state(status: str, balance: int, **more: object) -> dict[str, object]:
    return {"status": status, "balance_cents": balance, **more}


class TestHistoryAndAudit:
    async def test_a_cheque_used_in_two_parts_undone_then_cancelled(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        voucher = (await create_voucher(session, settings)).voucher
        assert voucher.id is not None
        await service.take_amount(session, voucher.id, 50_000, paris_today())
        await service.take_amount(session, voucher.id, 150_000, paris_today())
        await service.give_back(session, voucher.id, 150_000)
        await service.give_back(session, voucher.id, 50_000)
        await service.take_amount(session, voucher.id, 20_000, paris_today())
        await service.cancel(session, voucher.id, "Entreprise radiée")
        partly, issued, spent = "partially_redeemed", "issued", "redeemed"
        assert await trail(session, voucher.id) == [
            (
                "voucher.redeemed",
                state(issued, 200_000),
                state(partly, 150_000, amount_cents=50_000),
            ),
            ("voucher.redeemed", state(partly, 150_000), state(spent, 0, amount_cents=150_000)),
            (
                "voucher.redemption_undone",
                state(spent, 0),
                state(partly, 150_000, amount_cents=150_000),
            ),
            (
                "voucher.redemption_undone",
                state(partly, 150_000),
                state(issued, 200_000, amount_cents=50_000),
            ),
            (
                "voucher.redeemed",
                state(issued, 200_000),
                state(partly, 180_000, amount_cents=20_000),
            ),
            (
                "voucher.cancelled",
                state(partly, 180_000),
                state("cancelled", 180_000, amount_cents=180_000, reason="Entreprise radiée"),
            ),
        ]
        assert (await steps(session, voucher.id))[1:] == [
            ("redeemed", VoucherStatus.partially_redeemed, 50_000, 150_000, None),
            ("redeemed", VoucherStatus.redeemed, 150_000, 0, None),
            ("redemption_undone", VoucherStatus.partially_redeemed, 150_000, 150_000, None),
            ("redemption_undone", VoucherStatus.issued, 50_000, 200_000, None),
            ("redeemed", VoucherStatus.partially_redeemed, 20_000, 180_000, None),
            ("cancelled", VoucherStatus.cancelled, 180_000, 180_000, "Entreprise radiée"),
        ]

    async def test_an_untouched_cheque_cancelled_and_its_beneficiary_told(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        voucher = issued.voucher
        assert voucher.id is not None
        cancelled = await service.cancel(session, voucher.id, "Doublon de demande")
        assert (cancelled.status, cancelled.cancel_reason) == (
            VoucherStatus.cancelled,
            "Doublon de demande",
        )
        assert cancelled.cancelled_at is not None
        assert (await trail(session, voucher.id))[-1][1] == state("issued", 200_000)
        query = select(Notification).where(
            col(Notification.recipient) == voucher.beneficiary_email,
            col(Notification.event) == "voucher_cancelled",
        )
        # Every test cheque has the same beneficiary, and other tests commit theirs.
        (data,) = [
            data
            for queued in (await session.execute(query)).scalars()
            if (data := payload.decode(queued.data))["voucher_code"] == issued.code
        ]
        told = rendering.render("voucher_cancelled", data)
        assert issued.code in told.text and "Doublon de demande" in told.text
        assert told.text.lstrip().startswith("Bonjour Madame, Monsieur,")
        assert "Atelier Calanques SARL" in told.text

    async def test_expiry_and_payment_in_the_trail(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        yesterday = paris_today() - timedelta(days=1)
        partly = (await create_voucher(session, settings, valid_until=yesterday)).voucher
        assert partly.id is not None
        await service.take_amount(session, partly.id, 50_000, yesterday)
        untouched = (await create_voucher(session, settings, valid_until=yesterday)).voucher
        assert untouched.id is not None
        await service.sweep_expired(session, paris_today())
        assert (await trail(session, partly.id))[-1] == (
            "voucher.expired",
            state("partially_redeemed", 150_000),
            state("expired", 150_000, amount_cents=150_000),
        )
        assert (await trail(session, untouched.id))[-1] == (
            "voucher.expired",
            state("issued", 200_000),
            state("expired", 200_000, amount_cents=200_000),
        )
        assert (await steps(session, untouched.id))[-1] == (
            "expired",
            VoucherStatus.expired,
            200_000,
            200_000,
            None,
        )
        spent = (await create_voucher(session, settings)).voucher
        assert spent.id is not None
        await service.take_amount(session, spent.id, spent.amount_cents, paris_today())
        await service.mark_paid(session, [spent.id])
        await service.mark_unpaid(session, [spent.id])
        assert (await trail(session, spent.id))[-2:] == [
            ("voucher.paid", state("redeemed", 0), state("paid", 0)),
            ("voucher.unpaid", state("paid", 0), state("redeemed", 0)),
        ]


class TestWhyNotTaken:
    async def test_each_refusal_says_its_date(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        yesterday = paris_today() - timedelta(days=1)
        expired = (await create_voucher(session, settings, valid_until=yesterday)).voucher
        with pytest.raises(VoucherExpired) as refused:
            await service.take_amount(session, expired.id or 0, 100, paris_today())
        assert refused.value.extra == {"valid_until": yesterday.isoformat()}
        cancelled = await service.cancel(
            session, (await create_voucher(session, settings)).voucher.id or 0, "Doublon"
        )
        with pytest.raises(VoucherCancelled) as refused_cancelled:
            await service.take_amount(session, cancelled.id or 0, 100, paris_today())
        assert cancelled.cancelled_at is not None
        assert refused_cancelled.value.extra == {"cancelled_at": cancelled.cancelled_at.isoformat()}

    async def test_nothing_to_give_back_says_why(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        voucher = (await create_voucher(session, settings)).voucher
        with pytest.raises(NothingToGiveBack) as refused:
            await service.give_back(session, voucher.id or 0, 1)
        assert refused.value.extra == {"voucher_status": "issued", "balance_cents": 200_000}
        with pytest.raises(VoucherNotFound) as not_found:
            await service.give_back(session, 987_654_321, 1)
        assert not_found.value.detail == "Aucun chèque n°987654321."
        with pytest.raises(VoucherNotFound) as not_found:
            await service.take_amount(session, 987_654_321, 1, paris_today())
        assert not_found.value.detail == "Aucun chèque n°987654321."
        for amount in (0, -1):
            with pytest.raises(InvalidAmount):
                await service.give_back(session, voucher.id or 0, amount)


class TestOnlyTheCheques:
    async def test_an_undo_touches_its_cheque_only(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        mine, other = [(await create_voucher(session, settings)).voucher for _ in range(2)]
        assert mine.id is not None and other.id is not None
        await session.refresh(mine)
        issued_at = mine.updated_at
        for voucher in (mine, other):
            await service.take_amount(session, voucher.id or 0, 50_000, paris_today())
        taken_at = (await session.get(Voucher, mine.id)).updated_at  # type: ignore[union-attr]
        assert taken_at > issued_at
        await service.give_back(session, mine.id, 50_000)
        await session.refresh(mine)
        await session.refresh(other)
        assert (mine.balance_cents, other.balance_cents) == (200_000, 150_000)
        assert other.status is VoucherStatus.partially_redeemed
        assert mine.updated_at > taken_at

    async def test_payment_moves_the_named_cheques_only(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        paid, left = [(await create_voucher(session, settings)).voucher for _ in range(2)]
        for voucher in (paid, left):
            await service.take_amount(session, voucher.id or 0, voucher.amount_cents, paris_today())
        await session.refresh(paid)
        redeemed_at = paid.updated_at
        await service.mark_paid(session, [paid.id or 0])
        await session.refresh(paid)
        await session.refresh(left)
        assert (paid.status, left.status) == (VoucherStatus.paid, VoucherStatus.redeemed)
        assert paid.updated_at > redeemed_at
        with pytest.raises(VouchersNotPaid) as refused:
            await service.mark_unpaid(session, [paid.id or 0, left.id or 0])
        assert refused.value.extra == {"voucher_ids": [left.id]}
        await session.refresh(paid)
        assert paid.status is VoucherStatus.paid  # all or none

    async def test_the_sweep_leaves_a_cheque_on_its_last_day(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        last_day = (await create_voucher(session, settings, valid_until=paris_today())).voucher
        gone = (
            await create_voucher(session, settings, valid_until=paris_today() - timedelta(1))
        ).voucher
        await session.refresh(gone)
        issued_at = gone.updated_at
        swept = {voucher.id for voucher in await service.sweep_expired(session, paris_today())}
        assert gone.id in swept and last_day.id not in swept
        await session.refresh(gone)
        assert gone.status is VoucherStatus.expired
        assert gone.expired_at is not None and gone.expired_at >= issued_at
        assert gone.updated_at > issued_at

    async def test_a_cancellation_refused_says_why(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        spent = (await create_voucher(session, settings)).voucher
        await service.take_amount(session, spent.id or 0, spent.amount_cents, paris_today())
        with pytest.raises(VoucherNotCancellable) as refused:
            await service.cancel(session, spent.id or 0, "Trop tard")
        assert refused.value.extra == {"voucher_status": "redeemed"}
        with pytest.raises(VoucherNotFound) as not_found:
            await service.cancel(session, 987_654_321, "Inconnu")
        assert not_found.value.detail == "Aucun chèque n°987654321."

    async def test_a_cancellation_withdraws_its_cheque_only(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        withdrawn, kept = [(await create_voucher(session, settings)).voucher for _ in range(2)]
        await session.refresh(withdrawn)
        issued_at = withdrawn.updated_at
        await service.cancel(session, withdrawn.id or 0, "Doublon")
        await session.refresh(withdrawn)
        await session.refresh(kept)
        assert (withdrawn.status, kept.status) == (VoucherStatus.cancelled, VoucherStatus.issued)
        assert withdrawn.updated_at > issued_at
