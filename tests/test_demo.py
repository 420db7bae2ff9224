"""`voucher-service demo` data: what CONTRACT.md promises (a demo programme open today, an
admin, an accountant and an accredited expert, with their logins) plus the applications
waiting for review; a demo cheque can be issued and redeemed with the demo logins; seeding
twice changes nothing."""

from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from experts.models import Accreditation, Expert
from notifications.models import Notification
from voucher_service import demo
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.cli import server
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.programmes.models import Programme
from voucher_service.vouchers.models import Voucher

COUNTED: tuple[type[SQLModel], ...] = (User, Expert, Programme, Application, Voucher)


async def counts(session: AsyncSession) -> dict[str, int]:
    return {
        model.__name__: (
            await session.execute(select(func.count()).select_from(model))
        ).scalar_one()
        for model in COUNTED
    }


async def demo_programme(session: AsyncSession) -> Programme:
    name = demo.demo_programme(paris_today()).name
    query = select(Programme).where(col(Programme.name) == name)
    return (await session.execute(query)).scalar_one()


async def log_in(client: AsyncClient, login: demo.DemoLogin) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": login.email, "password": login.password}
    )
    assert response.status_code == 200, (login.email, response.text)
    assert response.json()["role"] == login.role.value
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def login_for(role: Role) -> demo.DemoLogin:
    [login] = [login for login in demo.DEMO_LOGINS if login.role is role]
    return login


async def test_the_seed_creates_what_the_demo_promises_once(
    session: AsyncSession, settings: Settings, client: AsyncClient
) -> None:
    before = await counts(session)
    logins = await demo.seed(session, settings)
    after = await counts(session)
    assert {login.role for login in logins} == {Role.admin, Role.accountant, Role.expert}
    created = {name: after[name] - before[name] for name in after}
    assert created == {"User": 3, "Expert": 1, "Programme": 1, "Application": 4, "Voucher": 0}

    for login in logins:  # each printed login signs in, with its role
        headers = await log_in(client, login)
        me = await client.get("/api/v1/auth/me", headers=headers)
        assert (me.json()["email"], me.json()["role"]) == (login.email, login.role.value)

    programme = await demo_programme(session)
    assert programme.opens_on <= paris_today() <= programme.closes_on
    assert (programme.cheque_amount_cents, programme.budget_cents) == (200_000, 50_000_000)

    query = select(Application).where(col(Application.programme_id) == programme.id)
    applications = (await session.execute(query)).scalars().all()
    outcomes = {a.siret: (a.status, a.company_name) for a in applications}
    # Checked against the fictitious registry: the Provence companies wait for approval,
    # the Parisian one is refused for its département, each told so with its status link.
    assert outcomes == {
        d.company.siret: (
            ApplicationStatus.ineligible
            if d.company.department == "75"
            else ApplicationStatus.eligible,
            d.company.name,
        )
        for d in demo.DEMO_APPLICATIONS
    }
    told = select(Notification).where(
        col(Notification.event).in_(["application_received", "application_rejected"])
    )
    received = {n.recipient: n.data["status_url"] for n in (await session.scalars(told)).all()}
    for application in applications:
        assert application.email is not None
        link = received[application.email]
        assert link == f"{settings.public_url}/status/{application.status_token}"

    user = (
        await session.execute(select(User).where(col(User.email) == demo.DEMO_EXPERT.email))
    ).one()
    expert = (await session.execute(select(Expert).where(col(Expert.user_id) == user[0].id))).one()
    assert user[0].role is Role.expert and user[0].email == login_for(Role.expert).email
    assert expert[0].status is Accreditation.accredited

    await demo.seed(session, settings)
    assert await counts(session) == after, "seeding twice changes nothing"
    for application in applications:  # not even once an application was decided
        if application.status is ApplicationStatus.eligible:
            application.status = ApplicationStatus.rejected
    await session.flush()
    await demo.seed(session, settings)
    assert await counts(session) == after, "a rejected demo application does not come back"


async def test_the_demo_expert_redeems_a_demo_cheque(
    session: AsyncSession, settings: Settings, client: AsyncClient
) -> None:
    """The demo walk-through: the demo admin approves a waiting demo application, the demo
    expert redeems the cheque it issued, through the API, with the printed logins."""
    await demo.seed(session, settings)
    programme = await demo_programme(session)
    admin, expert = (
        await log_in(client, login_for(Role.admin)),
        await log_in(client, login_for(Role.expert)),
    )
    waiting = await client.get(
        "/api/v1/applications",
        params={"status": "eligible", "programme_id": programme.id},
        headers=admin,
    )
    assert waiting.status_code == 200, waiting.text
    [first, *_] = [a for a in waiting.json()["items"] if a["programme_id"] == programme.id]

    approved = await client.post(f"/api/v1/applications/{first['id']}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    cheque = approved.json()["cheque"]
    assert cheque["amount_cents"] == programme.cheque_amount_cents

    redeemed = await client.post(
        "/api/v1/redemptions",
        json={
            "token": cheque["token"],
            "coaching_date": paris_today().isoformat(),
            "invoice_reference": "FAC-DEMO-1",
        },
        headers=expert,
    )
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["amount_cents"] == cheque["amount_cents"]
    voucher = await client.get(f"/api/v1/vouchers/{cheque['code']}", headers=admin)
    assert voucher.json()["balance_cents"] == 0
    mine = await client.get("/api/v1/redemptions", headers=expert)
    assert [r["id"] for r in mine.json()] == [redeemed.json()["id"]]


class TestDemoDefaults:
    """`demo` needs no internet and its links point at the server it starts, unless the
    environment says otherwise."""

    @pytest.fixture(autouse=True)
    def unset(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.chdir(tmp_path)  # no .env file
        for variable in ("MCD_REGISTRY_URL", "MCD_PUBLIC_URL"):
            # Recorded first, so that what _demo_defaults writes is undone after the test.
            monkeypatch.setenv(variable, "")
            monkeypatch.delenv(variable)

    def test_the_fictitious_registry_and_the_server_s_own_address(self) -> None:
        server._demo_defaults("0.0.0.0", 8123)
        settings = Settings()
        assert settings.registry_url == "demo"
        assert settings.public_url == "http://127.0.0.1:8123"

    def test_what_the_environment_sets_is_kept(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MCD_REGISTRY_URL", "http://127.0.0.1:9/registre")
        monkeypatch.setenv("MCD_PUBLIC_URL", "https://cheques.maregionsud.fr")
        server._demo_defaults("127.0.0.1", 8123)
        settings = Settings()
        assert settings.registry_url == "http://127.0.0.1:9/registre"
        assert settings.public_url == "https://cheques.maregionsud.fr"
