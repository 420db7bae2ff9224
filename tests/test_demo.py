"""`voucher-service demo` data: seeding twice changes nothing."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service import demo
from voucher_service.core.auth.models import User
from voucher_service.programmes.models import Programme


async def counts(session: AsyncSession) -> tuple[int, int]:
    users = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    programmes = (await session.execute(select(func.count()).select_from(Programme))).scalar_one()
    return users, programmes


async def test_seed_is_idempotent(session: AsyncSession) -> None:
    before = await counts(session)
    await demo.seed(session)
    once = await counts(session)
    await demo.seed(session)
    assert await counts(session) == once
    assert once[0] - before[0] in (0, len(demo.DEMO_LOGINS))
