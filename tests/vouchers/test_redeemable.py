"""The take's SQL condition and the refusal people read are one rule: for every kind of
cheque and amount, the database takes exactly the cheques for which no refusal is given."""

from datetime import timedelta
from itertools import product

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.fixtures.factories import create_programme
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.vouchers import redeemable
from voucher_service.vouchers.models import Voucher, VoucherStatus

AMOUNT = 150_000
DAY = timedelta(days=1)


async def _every_kind(session: AsyncSession, settings: Settings) -> list[Voucher]:
    """A cheque per status × balance × validity window around today."""
    today, programme = paris_today(), await create_programme(session)
    windows = [
        (today - 30 * DAY, today - DAY),  # past its last day
        (today - 30 * DAY, today),  # last day today
        (today, today + 30 * DAY),  # first day today
        (today + DAY, today + 30 * DAY),  # not yet
    ]
    cheques = []
    for status, balance, (first, last) in product(VoucherStatus, (0, 1, AMOUNT), windows):
        voucher = (await create_voucher(session, settings, programme)).voucher
        voucher.status, voucher.balance_cents = status, balance
        voucher.valid_from, voucher.valid_until = first, last
        cheques.append(voucher)
    await session.flush()
    return cheques


async def test_the_condition_takes_what_the_refusal_lets_through(
    session: AsyncSession, settings: Settings
) -> None:
    cheques = await _every_kind(session, settings)
    today = paris_today()
    for amount in (1, 2, AMOUNT):
        query = select(col(Voucher.id)).where(
            col(Voucher.id).in_([v.id for v in cheques]), *redeemable.condition(today, amount)
        )
        taken = set((await session.scalars(query)).all())
        allowed = {v.id for v in cheques if redeemable.refusal(v, today, amount) is None}
        assert taken == allowed
        assert allowed, "some cheques can be redeemed"
    refused_codes = {
        error.code for v in cheques if (error := redeemable.refusal(v, today, AMOUNT)) is not None
    }
    assert refused_codes == {
        "cancelled",
        "expired",
        "already_redeemed",
        "not_yet_valid",
        "insufficient_balance",
    }


async def test_the_reason_is_french(session: AsyncSession, settings: Settings) -> None:
    today = paris_today()
    voucher = (await create_voucher(session, settings)).voucher
    assert redeemable.reason(voucher, today) is None
    voucher.valid_from = today + DAY
    assert (
        redeemable.reason(voucher, today) == f"Valable à partir du {voucher.valid_from:%d/%m/%Y}."
    )
    voucher.valid_from, voucher.status = today, VoucherStatus.paid
    assert redeemable.reason(voucher, today) == "Chèque déjà utilisé."
    voucher.status = VoucherStatus.cancelled
    assert redeemable.reason(voucher, today) == "Chèque annulé."
