"""Experts with redemptions waiting to be paid."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from experts.models import Expert, Redemption
from experts.redemption import redeem
from experts.schemas import RedemptionCreate
from tests.fixtures.factories import create_expert, create_programme
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.config import Settings
from voucher_service.vouchers.validity import paris_today

# The Paris day: batches cut off at the end of a Paris day, so between midnight in Paris
# and midnight UTC the machine's date.today() is already a day behind.
TODAY = paris_today()


async def redeemed(
    session: AsyncSession, settings: Settings, expert: Expert, amount: int | None = None
) -> Redemption:
    issued = await create_voucher(session, settings, programme=await create_programme(session))
    body = RedemptionCreate(
        token=issued.token,
        amount_cents=amount,
        coaching_date=TODAY,
        invoice_reference=f"FA-{issued.code}",
    )
    redemption, _ = await redeem(session, expert, body, settings)
    return redemption


@pytest.fixture
async def two_experts(session: AsyncSession, settings: Settings) -> dict:
    first = await create_expert(session, name="Hélène Conseil Numérique")
    second = await create_expert(session, iban="FR1420041010050500013M02606", bic="PSSTFRPPMAR")
    return {
        "first": first,
        "second": second,
        "r1": await redeemed(session, settings, first),
        "r2": await redeemed(session, settings, first, amount=50_000),
        "r3": await redeemed(session, settings, second),
    }
