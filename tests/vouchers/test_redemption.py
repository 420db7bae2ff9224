"""take_amount and give_back: single use, never overdrawn, validity in Paris days."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.fixtures.factories import create_programme
from tests.fixtures.vouchers import create_voucher
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
    VoucherNotFound,
    VoucherNotYetValid,
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
