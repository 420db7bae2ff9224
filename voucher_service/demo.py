"""Demo data for `voucher-service demo`: one login per role, a programme open today, a few
applications of fictitious companies checked against the built-in fictitious registry (some
eligible and waiting for approval, one refused), and an accredited expert."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts import registry as expert_registry
from experts.models import Accreditation
from experts.schemas import ExpertCreate
from voucher_service.applications import service as applications_service
from voucher_service.applications.fictitious_registry import COMPANIES, FictitiousCompany
from voucher_service.applications.registry import RegistryClient
from voucher_service.applications.schemas import ApplicationCreate
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import FICTITIOUS_REGISTRY, Settings
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


@dataclass(frozen=True)
class DemoApplication:
    company: FictitiousCompany
    contact_name: str
    theme: str
    headcount: int


DEMO_APPLICATIONS = [
    DemoApplication(COMPANIES[0], "Élodie Martin", "cybersecurity", 6),
    DemoApplication(COMPANIES[1], "Karim Benali", "e-commerce", 3),
    DemoApplication(COMPANIES[2], "Sophie Roux", "collaboration", 12),
    DemoApplication(COMPANIES[3], "Louis Garnier", "e-commerce", 7),
]


def _form(programme_id: int, demo: DemoApplication) -> ApplicationCreate:
    """What the business would type on the form, true to the registry's figures."""
    return ApplicationCreate(
        programme_id=programme_id,
        siret=demo.company.siret,
        company_name=demo.company.name,
        contact_name=demo.contact_name,
        email=f"contact@{demo.company.siret}.demo.moncoachdigital.fr",
        phone="04 91 00 00 00",
        theme=demo.theme,
        headcount=demo.headcount,
        annual_turnover_eur=demo.company.turnover_eur,
        de_minimis_aid_eur=0,
        de_minimis_attestation=True,
        consent=True,
    )


async def _seed_applications(session: AsyncSession, programme_id: int, settings: Settings) -> None:
    """Submitted as the form would, checked against the fictitious registry (the companies
    are fictitious whichever registry the server uses); each company applies once ever."""
    registry = RegistryClient(FICTITIOUS_REGISTRY)
    for demo in DEMO_APPLICATIONS:
        siret = demo.company.siret
        if not await applications_service.has_applied(session, programme_id, siret):
            form = _form(programme_id, demo)
            await applications_service.submit(session, form, registry, settings)


DEMO_EXPERT = ExpertCreate(
    siret="99900007800017",
    name="Numérique Provence Conseil (fictif)",
    contact_name="Karim Benali",
    email="expert@demo.moncoachdigital.fr",
    iban="FR7630006000011234567890189",
    bic="AGRIFRPP",
    themes=["e-commerce", "cybersecurity", "collaboration"],
    departments=["13", "83", "84"],
    password=DEMO_LOGINS[2].password,
)


async def _seed_expert(session: AsyncSession, settings: Settings) -> None:
    """The demo expert's login is registered as an accredited expert."""
    if await auth_service.get_by_email(session, DEMO_EXPERT.email) is not None:
        return
    expert, _ = await expert_registry.register(session, DEMO_EXPERT, settings)
    assert expert.id is not None
    await expert_registry.change_status(
        session, expert.id, Accreditation.accredited, "Expert de démonstration", settings
    )


async def seed(session: AsyncSession, settings: Settings | None = None) -> list[DemoLogin]:
    """Create what is missing; running it twice changes nothing."""
    settings = settings or Settings()
    await _seed_expert(session, settings)
    for login in DEMO_LOGINS:
        if await auth_service.get_by_email(session, login.email) is None:
            await auth_service.create_user(session, login.email, login.role, login.password)
    body = demo_programme(paris_today())
    query = select(Programme).where(col(Programme.name) == body.name)
    programme = (await session.execute(query)).scalar_one_or_none()
    if programme is None:
        programme = await programme_service.create(session, body)
    assert programme.id is not None
    await _seed_applications(session, programme.id, settings)
    return DEMO_LOGINS
