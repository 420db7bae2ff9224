"""Accounts, bearer tokens, roles and login throttling."""

from datetime import timedelta

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.core.test_errors import assert_problem
from tests.fixtures.factories import PASSWORD, HeadersFor, create_user
from voucher_service.core.auth.models import LoginFailure, Role
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings

WRONG = "guess guess guess"


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


class TestToken:
    async def test_valid_credentials_give_a_working_token(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, Role.accountant)
        response = await login(client, user.email.upper())
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer" and body["role"] == "accountant"
        me = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.json()["email"] == user.email

    async def test_wrong_password_is_401(self, client: AsyncClient, session: AsyncSession) -> None:
        user = await create_user(session, Role.admin)
        assert_problem(
            await login(client, user.email, "wrong password!"), 401, "invalid_credentials"
        )

    async def test_unknown_account_is_401(self, client: AsyncClient) -> None:
        assert_problem(await login(client, "nobody@example.fr"), 401, "invalid_credentials")

    async def test_repeated_failures_are_throttled(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.admin)
        for _ in range(settings.login_max_failures):
            assert (await login(client, user.email, "guess guess guess")).status_code == 401
        throttled = await login(client, user.email)
        assert_problem(throttled, 429, "too_many_requests")
        assert int(throttled.headers["retry-after"]) > 0


async def login_from(app: FastAPI, address: str, email: str, password: str = PASSWORD) -> Response:
    transport = ASGITransport(app=app, client=(address, 40000))
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await login(client, email, password)


async def fail_from(app: FastAPI, addresses: list[str], email: str) -> None:
    for address in addresses:
        assert (await login_from(app, address, email, WRONG)).status_code == 401


def retry_after(response: Response) -> int:
    assert_problem(response, 429, "too_many_requests")
    return int(response.headers["retry-after"])


async def age_failures(session: AsyncSession, ago: timedelta) -> None:
    """As if every failure so far happened that long ago."""
    await session.execute(update(LoginFailure).values(occurred_at=utcnow() - ago))


class TestLoginThrottle:
    async def test_an_attacker_elsewhere_does_not_lock_the_owner_out(
        self, app: FastAPI, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.admin)
        await fail_from(app, ["203.0.113.9"] * settings.login_max_failures, user.email)
        assert retry_after(await login_from(app, "203.0.113.9", user.email)) > 0
        assert (await login_from(app, "198.51.100.7", user.email)).status_code == 200

    async def test_each_further_failure_doubles_the_delay(
        self, app: FastAPI, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.admin)
        await fail_from(app, ["203.0.113.9"] * settings.login_max_failures, user.email)
        first = settings.login_delay_seconds
        assert first - 5 < retry_after(await login_from(app, "203.0.113.9", user.email)) <= first
        await age_failures(session, timedelta(seconds=first + 1))
        await fail_from(app, ["203.0.113.9"], user.email)
        waited = retry_after(await login_from(app, "203.0.113.9", user.email))
        assert 2 * first - 5 < waited <= 2 * first

    async def test_an_address_trying_many_accounts_is_slowed_down(
        self, app: FastAPI, settings: Settings
    ) -> None:
        for n in range(4 * settings.login_max_failures):
            await fail_from(app, ["203.0.113.9"], f"guess{n}@example.fr")
        waited = retry_after(await login_from(app, "203.0.113.9", "another@example.fr"))
        assert 0 < waited <= settings.login_delay_seconds
        other = await login_from(app, "198.51.100.7", "another@example.fr")
        assert_problem(other, 401, "invalid_credentials")

    async def test_an_account_tried_from_everywhere_only_slows_down(
        self, app: FastAPI, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.admin)
        assert (await login_from(app, "198.51.100.7", user.email)).status_code == 200
        addresses = [f"203.0.113.{n}" for n in range(4 * settings.login_max_failures)]
        await fail_from(app, addresses, user.email)
        first = settings.login_delay_seconds
        assert 0 < retry_after(await login_from(app, "192.0.2.1", user.email)) <= first
        assert (await login_from(app, "198.51.100.7", user.email)).status_code == 200
        await age_failures(session, timedelta(seconds=first + 1))
        await fail_from(app, ["192.0.2.2"], user.email)  # the delay does not grow
        assert first - 5 < retry_after(await login_from(app, "192.0.2.3", user.email)) <= first


class TestRoles:
    async def test_no_token_is_401(self, client: AsyncClient) -> None:
        response = await client.get("/api/v1/auth/me")
        assert_problem(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_forged_token_is_401(self, client: AsyncClient) -> None:
        response = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer x.y.z"})
        assert_problem(response, 401, "not_authenticated")

    async def test_wrong_role_is_403(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        for role in (Role.expert, Role.accountant):
            response = await client.post(
                "/api/v1/users",
                headers=await headers_for(role),
                json={"email": "new@example.fr", "role": "admin", "password": "a long password"},
            )
            assert_problem(response, 403, "forbidden")

    async def test_admin_creates_a_login(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        body = {"email": "compta@example.fr", "role": "accountant", "password": "a long password"}
        headers = await headers_for(Role.admin)
        created = await client.post("/api/v1/users", headers=headers, json=body)
        assert created.status_code == 201 and created.json()["role"] == "accountant"
        again = await client.post("/api/v1/users", headers=headers, json=body)
        assert_problem(again, 409, "email_taken")
        assert (await login(client, "compta@example.fr", "a long password")).status_code == 200
