"""Accounts, bearer tokens, roles and login throttling."""

from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tests.core.test_errors import assert_problem
from tests.fixtures.factories import PASSWORD, HeadersFor, create_user
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings


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
