"""Demo data for `voucher-service demo`: one login per role (and, as the domains grow,
a programme and an accredited expert)."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import Role


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str
    password: str


DEMO_LOGINS = [
    DemoLogin(Role.admin, "admin@demo.moncoachdigital.fr", "demo-admin-2027"),
    DemoLogin(Role.accountant, "compta@demo.moncoachdigital.fr", "demo-compta-2027"),
    DemoLogin(Role.expert, "expert@demo.moncoachdigital.fr", "demo-expert-2027"),
]


async def seed(session: AsyncSession) -> list[DemoLogin]:
    """Create what is missing; running it twice changes nothing."""
    for login in DEMO_LOGINS:
        if await auth_service.get_by_email(session, login.email) is None:
            await auth_service.create_user(session, login.email, login.role, login.password)
    return DEMO_LOGINS
