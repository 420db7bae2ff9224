"""The second factor on the API: real TOTP codes computed here with pyotp, recovery codes
that work once, wrong codes counted by the login throttle, the requirement by role, and
the secret kept encrypted and out of the audit trail."""

from dataclasses import dataclass

import pyotp
import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.core.test_errors import assert_problem
from tests.core.test_settings import PAYING_ACCOUNT, PG, STRONG, make
from tests.fixtures.factories import PASSWORD, bearer, create_user, session_cookie
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth import enrolment, second_factor
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import RecoveryCode, Role, User
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings

HTML = {"accept": "text/html"}


@dataclass
class Enrolled:
    user: User
    totp: pyotp.TOTP
    recovery_codes: list[str]

    def next_code(self) -> str:
        """A code the server accepts now and has not seen: enrolment used the current step."""
        return self.totp.at(utcnow(), counter_offset=1)


async def enrol(session: AsyncSession, settings: Settings, role: Role = Role.admin) -> Enrolled:
    user = await create_user(session, role)
    started = second_factor.new_enrolment(settings, user)
    totp = pyotp.TOTP(started.secret)
    codes = await enrolment.enable(session, settings, user, started.pending, totp.now())
    await session.flush()
    return Enrolled(user, totp, codes)


async def token(client: AsyncClient, user: User, code: str | None = None) -> Response:
    form = {"username": user.email, "password": PASSWORD}
    if code is not None:
        form["totp"] = code
    return await client.post("/api/v1/auth/token", data=form)


class TestToken:
    async def test_an_enrolled_user_needs_a_current_code_and_each_works_once(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        enrolled = await enrol(session, settings)
        assert_problem(await token(client, enrolled.user), 401, "totp_required")
        wrong = f"{(int(enrolled.next_code()) + 1) % 1_000_000:06d}"
        assert_problem(await token(client, enrolled.user, wrong), 401, "invalid_totp")
        code = enrolled.next_code()
        accepted = await token(client, enrolled.user, code)
        assert accepted.status_code == 200, accepted.text
        headers = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
        me = await client.get("/api/v1/auth/me", headers=headers)
        assert me.json()["email"] == enrolled.user.email
        assert_problem(await token(client, enrolled.user, code), 401, "invalid_totp")
        older = enrolled.totp.now()  # the step enrolment used, still within the window
        assert_problem(await token(client, enrolled.user, older), 401, "invalid_totp")

    async def test_a_recovery_code_works_once_and_is_audited(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        enrolled = await enrol(session, settings)
        first, second = enrolled.recovery_codes[:2]
        assert len(set(enrolled.recovery_codes)) == 10
        assert (await token(client, enrolled.user, first.upper())).status_code == 200
        assert_problem(await token(client, enrolled.user, first), 401, "invalid_totp")
        assert (await token(client, enrolled.user, second)).status_code == 200
        actions = await audited_actions(session, enrolled.user)
        assert actions.count("user.recovery_code_used") == 2

    async def test_wrong_codes_count_as_failed_logins(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        enrolled = await enrol(session, settings)
        for _ in range(settings.login_max_failures):
            assert_problem(await token(client, enrolled.user, "000000"), 401, "invalid_totp")
        refused = await token(client, enrolled.user, enrolled.next_code())
        assert_problem(refused, 429, "too_many_requests")
        assert int(refused.headers["retry-after"]) > 0

    async def test_a_user_without_second_factor_logs_in_with_the_password(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, Role.admin)
        assert (await token(client, user)).status_code == 200


async def audited_actions(session: AsyncSession, user: User) -> list[str]:
    query = select(AuditEvent).where(
        col(AuditEvent.entity_type) == "user", col(AuditEvent.entity_id) == str(user.id)
    )
    return [event.action for event in (await session.execute(query)).scalars()]


class TestStorage:
    async def test_the_secret_is_encrypted_and_never_audited_and_codes_are_hashed(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        enrolled = await enrol(session, settings)
        secret = enrolled.totp.secret
        assert enrolled.user.totp_secret is not None and secret not in enrolled.user.totp_secret
        query = select(AuditEvent).where(col(AuditEvent.entity_id) == str(enrolled.user.id))
        events = list((await session.execute(query)).scalars())
        assert "user.totp_enabled" in [event.action for event in events]
        assert all(secret not in repr((e.before, e.after)) for e in events)
        stored = (
            await session.execute(
                select(col(RecoveryCode.code_hash)).where(
                    col(RecoveryCode.user_id) == enrolled.user.id
                )
            )
        ).scalars()
        hashes = set(stored)
        assert len(hashes) == 10
        assert not hashes & set(enrolled.recovery_codes)

    async def test_a_wrong_code_or_a_foreign_enrolment_does_not_enable(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        user, other = await create_user(session, Role.admin), await create_user(session, Role.admin)
        started = second_factor.new_enrolment(settings, user)
        with pytest.raises(second_factor.EnrolmentExpired):
            await enrolment.enable(session, settings, other, started.pending, "123456")
        with pytest.raises(second_factor.InvalidTotp):
            await enrolment.enable(session, settings, user, started.pending, "12345x")
        assert user.totp_secret is None and other.totp_secret is None


class TestRequirementSetting:
    def test_production_requires_admins_and_accountants_by_default(self) -> None:
        production = make(env="production", database_url=PG, secret_key=STRONG, **PAYING_ACCOUNT)
        assert production.second_factor_roles == {Role.admin, Role.accountant}
        assert make().second_factor_roles == frozenset()

    def test_the_roles_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MCD_REQUIRE_2FA_ROLES", "expert, admin")
        assert make().second_factor_roles == {Role.expert, Role.admin}
        monkeypatch.setenv("MCD_REQUIRE_2FA_ROLES", "")
        production = make(env="production", database_url=PG, secret_key=STRONG, **PAYING_ACCOUNT)
        assert production.second_factor_roles == frozenset()

    def test_an_unknown_role_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MCD_REQUIRE_2FA_ROLES", "admin,boss")
        with pytest.raises(ValidationError, match="MCD_REQUIRE_2FA_ROLES must be roles among"):
            make()


@pytest.fixture
def requiring(app: FastAPI, settings: Settings) -> Settings:
    """The app, now requiring a second factor of admins and accountants."""
    roles = frozenset({Role.admin, Role.accountant})
    app.state.settings = settings.model_copy(update={"require_2fa_roles": roles})
    required: Settings = app.state.settings
    return required


class TestRequirement:
    async def test_an_unenrolled_accountant_can_only_enrol(
        self, client: AsyncClient, session: AsyncSession, requiring: Settings
    ) -> None:
        accountant = await create_user(session, Role.accountant)
        assert_problem(await token(client, accountant), 403, "totp_enrolment_required")
        already = await client.get("/api/v1/auth/me", headers=bearer(requiring, accountant))
        assert_problem(already, 403, "totp_enrolment_required")
        client.cookies.set(SESSION_COOKIE, session_cookie(requiring, accountant))
        page = await client.get("/accounting", headers=HTML)
        assert page.status_code == 303 and page.headers["location"] == "/account/2fa"
        enrolment_page = await client.get("/account/2fa", headers=HTML)
        assert enrolment_page.status_code == 200
        assert "Votre rôle exige la double authentification" in enrolment_page.text

    async def test_an_enrolled_accountant_and_an_expert_work_as_before(
        self, client: AsyncClient, session: AsyncSession, requiring: Settings
    ) -> None:
        enrolled = await enrol(session, requiring, Role.accountant)
        accepted = await token(client, enrolled.user, enrolled.next_code())
        assert accepted.status_code == 200, accepted.text
        expert = await create_user(session, Role.expert)
        assert (await token(client, expert)).status_code == 200

    async def test_a_required_second_factor_cannot_be_turned_off_by_its_user(
        self, session: AsyncSession, requiring: Settings
    ) -> None:
        enrolled = await enrol(session, requiring, Role.accountant)
        with pytest.raises(enrolment.RequiredByRole):
            await enrolment.disable(session, requiring, enrolled.user, PASSWORD, "test")
        assert enrolled.user.totp_secret is not None


class TestSecondStepPage:
    async def test_without_a_verified_password_the_code_step_asks_for_it_again(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        enrolled = await enrol(session, settings)
        form = await client.get("/login/2fa", headers=HTML)
        assert "votre adresse e-mail et votre mot de passe" in form.text
        csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        data = {"code": enrolled.next_code(), "csrf_token": csrf}
        refused = await client.post("/login/2fa", data=data, headers=HTML)
        assert refused.status_code == 401 and "La connexion a expiré" in refused.text
        assert SESSION_COOKIE not in client.cookies
