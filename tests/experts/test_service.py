"""What payouts asks of the experts domain: the payable redemptions, and moving their
payout state (claim, release, paid) only from the states the rule allows."""

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts import service as experts_service
from experts.models import PayoutState, Redemption, RedemptionStatus
from tests.fixtures.factories import create_expert
from tests.payouts.conftest import redeemed
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings


async def three_redemptions(session: AsyncSession, settings: Settings) -> list[Redemption]:
    """An unpaid one, a cancelled one and one already in a batch, of one expert."""
    expert = await create_expert(session)
    unpaid, cancelled, batched = [await redeemed(session, settings, expert) for _ in range(3)]
    await session.execute(
        update(Redemption)
        .where(col(Redemption.id) == cancelled.id)
        .values(status=RedemptionStatus.cancelled)
    )
    await session.execute(
        update(Redemption)
        .where(col(Redemption.id) == batched.id)
        .values(payout_state=PayoutState.batched)
    )
    return [unpaid, cancelled, batched]


def ids(redemptions: list[Redemption]) -> list[int]:
    return [r.id for r in redemptions if r.id is not None]


async def test_payable_redemptions_are_the_active_unpaid_ones_before_the_instant(
    session: AsyncSession, settings: Settings
) -> None:
    made = ids(await three_redemptions(session, settings))
    later = await experts_service.payable_redemptions(session, utcnow() + timedelta(minutes=1))
    earlier = await experts_service.payable_redemptions(session, utcnow() - timedelta(days=1))
    assert [p.redemption.id for p in later if p.redemption.id in made] == made[:1]
    assert not [p for p in earlier if p.redemption.id in made]


async def test_a_claim_takes_only_the_active_unpaid_redemptions(
    session: AsyncSession, settings: Settings
) -> None:
    unpaid, cancelled, batched = await three_redemptions(session, settings)
    taken = await experts_service.claim_for_payout(session, ids([unpaid, cancelled, batched]))
    assert taken == {unpaid.id}
    assert unpaid.payout_state is PayoutState.batched
    assert cancelled.payout_state is PayoutState.unpaid
    assert await experts_service.claim_for_payout(session, []) == set()


async def test_released_then_paid(session: AsyncSession, settings: Settings) -> None:
    unpaid, _, batched = await three_redemptions(session, settings)
    await experts_service.release_from_payout(session, ids([batched]))
    await experts_service.mark_paid(session, ids([unpaid]))
    found = await experts_service.redemptions(session, ids([batched, unpaid]))
    assert {r.id: r.payout_state for r in found} == {
        batched.id: PayoutState.unpaid,
        unpaid.id: PayoutState.paid,
    }


async def test_a_cheque_is_fully_paid_when_each_active_redemption_is(
    session: AsyncSession, settings: Settings
) -> None:
    unpaid, cancelled, _ = await three_redemptions(session, settings)
    assert not await experts_service.fully_paid(session, unpaid.voucher_id)
    await experts_service.mark_paid(session, ids([unpaid]))
    assert await experts_service.fully_paid(session, unpaid.voucher_id)
    assert await experts_service.fully_paid(session, cancelled.voucher_id)  # cancelled only
    assert await experts_service.vouchers_of(session, ids([cancelled, unpaid])) == sorted(
        {cancelled.voucher_id, unpaid.voucher_id}
    )
