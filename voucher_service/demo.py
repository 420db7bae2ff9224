"""Demo data for `voucher-service demo`: one login per role (and, as the domains grow,
a programme and an accredited expert)."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import Role
from voucher_service.programmes import service as programme_service
from voucher_service.programmes.models import Programme
from voucher_service.programmes.schemas import ProgrammeCreate


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


def demo_programme(today: date) -> ProgrammeCreate:
    """The Région Sud scheme's real figures, open from a month ago for a year."""
    return ProgrammeCreate(
        name="Mon coach digital (démonstration)",
        cheque_amount_cents=200_000,
        budget_cents=50_000_000,
        opens_on=today - timedelta(days=30),
        closes_on=today + timedelta(days=365),
        cheque_validity_days=180,
        departments=["04", "05", "06", "13", "83", "84"],
        max_headcount=19,
        max_turnover_eur=2_000_000,
        themes=["e-commerce", "cybersecurity", "collaboration"],
    )


async def seed(session: AsyncSession) -> list[DemoLogin]:
    """Create what is missing; running it twice changes nothing."""
    for login in DEMO_LOGINS:
        if await auth_service.get_by_email(session, login.email) is None:
            await auth_service.create_user(session, login.email, login.role, login.password)
    programme = demo_programme(date.today())
    if (
        await session.execute(select(Programme).where(Programme.name == programme.name))
    ).first() is None:
        await programme_service.create(session, programme)
    return DEMO_LOGINS
