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


async def test_the_demo_expert_can_redeem(session: AsyncSession) -> None:
    from experts import registry
    from experts.models import Accreditation
    from voucher_service.core.auth import service as auth_service

    await demo.seed(session)
    user = await auth_service.get_by_email(session, demo.DEMO_EXPERT.email)
    assert user is not None
    expert = await registry.for_user(session, user)
    assert expert.status is Accreditation.accredited
