"""Experts with redemptions waiting to be paid."""

from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import Expert, PayoutState, Redemption
from experts.redemption import redeem
from experts.schemas import RedemptionCreate
from tests.fixtures.factories import create_expert, create_programme
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings


async def redeemed(
    session: AsyncSession, settings: Settings, expert: Expert, amount: int | None = None
) -> Redemption:
    issued = await create_voucher(session, settings, programme=await create_programme(session))
    body = RedemptionCreate(
        token=issued.token,
        amount_cents=amount,
        coaching_date=paris_today(),
        invoice_reference=f"FA-{issued.code}",
    )
    redemption, _ = await redeem(session, expert, body, settings)
    return redemption


async def set_aside_committed_redemptions(session: AsyncSession) -> None:
    """Tests that run a live server commit their redemptions into the session's database.
    This test's transaction (rolled back after it) marks them paid, so that a batch takes
    exactly the redemptions the test made, whatever ran before it."""
    await session.execute(
        update(Redemption)
        .where(col(Redemption.payout_state) == PayoutState.unpaid)
        .values(payout_state=PayoutState.paid)
    )


@pytest.fixture
async def two_experts(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    await set_aside_committed_redemptions(session)
    first = await create_expert(session, name="Hélène Conseil Numérique")
    second = await create_expert(session, iban="FR1420041010050500013M02606", bic="PSSTFRPPMAR")
    return {
        "first": first,
        "second": second,
        "r1": await redeemed(session, settings, first),
        "r2": await redeemed(session, settings, first, amount=50_000),
        "r3": await redeemed(session, settings, second),
    }
