"""The cancellation's SQL condition and the refusal people read are one rule: for every
state, the database takes exactly the cheques for which no refusal is given, and each
refusal says in French why, the API answering it with its code."""

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.core.test_errors import assert_problem
from tests.fixtures.factories import HeadersFor, create_programme
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.vouchers import cancellable
from voucher_service.vouchers.models import Voucher, VoucherStatus

FRENCH = {
    VoucherStatus.redeemed: "entièrement utilisé",
    VoucherStatus.paid: "payé à l'expert",
    VoucherStatus.expired: "a expiré",
    VoucherStatus.cancelled: "déjà annulé depuis le",
}


async def _one_of_each(session: AsyncSession, settings: Settings) -> dict[VoucherStatus, Voucher]:
    programme = await create_programme(session)
    cheques = {}
    for status in VoucherStatus:
        voucher = (await create_voucher(session, settings, programme)).voucher
        voucher.status = status
        voucher.cancelled_at = utcnow() if status is VoucherStatus.cancelled else None
        cheques[status] = voucher
    await session.flush()
    return cheques


async def test_the_condition_takes_what_the_refusal_lets_through(
    session: AsyncSession, settings: Settings
) -> None:
    cheques = await _one_of_each(session, settings)
    ids = [voucher.id for voucher in cheques.values()]
    query = select(col(Voucher.id)).where(col(Voucher.id).in_(ids), cancellable.condition())
    taken = set((await session.scalars(query)).all())
    let_through = {v.id for v in cheques.values() if cancellable.refusal(v) is None}
    assert taken == let_through
    assert {v.status for v in cheques.values() if v.id in taken} == {
        VoucherStatus.issued,
        VoucherStatus.partially_redeemed,
    }


async def test_each_refusal_says_why_in_french_on_the_api(
    client: AsyncClient, session: AsyncSession, settings: Settings, headers_for: HeadersFor
) -> None:
    cheques = await _one_of_each(session, settings)
    headers = await headers_for(Role.admin)
    await session.commit()  # keep the login when a refused request rolls back
    for status, words in FRENCH.items():
        voucher = cheques[status]
        response = await client.post(
            f"/api/v1/vouchers/{voucher.code}/cancel", json={"reason": "Doublon"}, headers=headers
        )
        body = assert_problem(response, 409, "not_cancellable")
        assert words in body["detail"], (status, body)
        assert body["voucher_status"] == status.value
