"""Sessions that end: logout, a password or role change and deactivation refuse every
cookie and bearer token the user had, against a real server; other users keep theirs."""

from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.core.test_errors import assert_problem
from tests.fixtures.cli import run_cli
from tests.fixtures.factories import PASSWORD, bearer, create_user, session_cookie
from tests.fixtures.servers import LiveServer
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role
from voucher_service.core.auth.tokens import ALGORITHM
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

NEW_PASSWORD = "a brand new long password"


async def committed_user(database: Database, role: Role = Role.accountant) -> str:
    async with database.sessionmaker() as session, session.begin():
        return (await create_user(session, role)).email


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


@pytest.fixture
async def browser_like(live_server: LiveServer) -> AsyncIterator[AsyncClient]:
    """A client that keeps its cookies, as a browser does."""
    async with AsyncClient(base_url=live_server.url) as client:
        yield client


async def page_login(client: AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/login")
    data = {"email": email, "password": password, "csrf_token": csrf_of(form.text)}
    return await client.post("/login", data=data)


async def logged_in_cookie(live_server: LiveServer, email: str) -> str:
    async with AsyncClient(base_url=live_server.url) as client:
        assert (await page_login(client, email)).status_code == 303
        return client.cookies[SESSION_COOKIE]


async def api_token(live_server: LiveServer, email: str, password: str = PASSWORD) -> str:
    async with AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


async def accounting_with(live_server: LiveServer, cookie: str) -> httpx.Response:
    """GET /accounting replaying a saved cookie, from a client that has no other."""
    async with AsyncClient(base_url=live_server.url, cookies={SESSION_COOKIE: cookie}) as client:
        return await client.get("/accounting", headers={"accept": "text/html"})


async def me_with(live_server: LiveServer, token: str) -> httpx.Response:
    async with AsyncClient(base_url=live_server.url) as client:
        return await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def assert_sent_to_login(response: httpx.Response) -> None:
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/login?next=/accounting"


class TestLogout:
    async def test_the_old_cookie_no_longer_opens_accounting(
        self, live_server: LiveServer, database: Database, browser_like: AsyncClient
    ) -> None:
        email, colleague = await committed_user(database), await committed_user(database)
        assert (await page_login(browser_like, email)).status_code == 303
        old_cookie = browser_like.cookies[SESSION_COOKIE]
        colleague_cookie = await logged_in_cookie(live_server, colleague)
        assert (await accounting_with(live_server, old_cookie)).status_code == 200

        page = await browser_like.get("/accounting")
        logout = await browser_like.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert logout.status_code == 303 and SESSION_COOKIE not in browser_like.cookies

        assert_sent_to_login(await accounting_with(live_server, old_cookie))
        assert (await accounting_with(live_server, colleague_cookie)).status_code == 200

    async def test_api_logout_refuses_the_callers_tokens_and_cookies(
        self, live_server: LiveServer, database: Database
    ) -> None:
        email = await committed_user(database)
        token, cookie = (
            await api_token(live_server, email),
            await logged_in_cookie(live_server, email),
        )
        async with AsyncClient(base_url=live_server.url) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
            again = await client.post("/api/v1/auth/logout", headers=headers)
        assert_problem(again, 401, "not_authenticated")
        assert_problem(await me_with(live_server, token), 401, "not_authenticated")
        assert_sent_to_login(await accounting_with(live_server, cookie))
        fresh = await api_token(live_server, email)
        assert (await me_with(live_server, fresh)).json()["email"] == email


CHANGES = {
    "set-password": ("--password", NEW_PASSWORD),
    "set-role": ("--role", "admin"),
    "deactivate-user": (),
}


class TestAccountChangesEndSessions:
    @pytest.mark.parametrize("command", list(CHANGES))
    async def test_every_session_of_that_user_ends_and_only_theirs(
        self, command: str, live_server: LiveServer, database: Database
    ) -> None:
        email, colleague = await committed_user(database), await committed_user(database)
        cookie, token = (
            await logged_in_cookie(live_server, email),
            await api_token(live_server, email),
        )
        other_cookie = await logged_in_cookie(live_server, colleague)
        other_token = await api_token(live_server, colleague)

        result = await run_cli(command, "--email", email, *CHANGES[command], env=live_server.env)
        assert result.code == 0, result.stderr

        assert_sent_to_login(await accounting_with(live_server, cookie))
        assert_problem(await me_with(live_server, token), 401, "not_authenticated")
        assert (await accounting_with(live_server, other_cookie)).status_code == 200
        assert (await me_with(live_server, other_token)).status_code == 200

    async def test_the_new_password_logs_in_and_the_old_one_no_longer(
        self, live_server: LiveServer, database: Database, browser_like: AsyncClient
    ) -> None:
        email = await committed_user(database)
        env = live_server.env
        result = await run_cli("set-password", "--email", email, env=env, stdin=NEW_PASSWORD + "\n")
        assert result.code == 0, result.stderr
        assert (await page_login(browser_like, email)).status_code == 401
        landed = await page_login(browser_like, email, NEW_PASSWORD)
        assert landed.headers["location"] == "/accounting"

    async def test_a_reactivated_user_logs_in_again_but_old_sessions_stay_ended(
        self, live_server: LiveServer, database: Database
    ) -> None:
        email = await committed_user(database)
        cookie = await logged_in_cookie(live_server, email)
        env = live_server.env
        assert (await run_cli("deactivate-user", "--email", email, env=env)).code == 0
        async with AsyncClient(base_url=live_server.url) as client:
            assert (await page_login(client, email)).status_code == 401
        assert (await run_cli("activate-user", "--email", email, env=env)).code == 0
        assert_sent_to_login(await accounting_with(live_server, cookie))
        assert (
            await accounting_with(live_server, await logged_in_cookie(live_server, email))
        ).status_code == 200

    async def test_an_unknown_login_is_refused(self, live_server: LiveServer) -> None:
        result = await run_cli(
            "set-role", "--email", "nobody@region.fr", "--role", "admin", env=live_server.env
        )
        assert result.code == 1 and "Aucun compte nobody@region.fr" in result.stderr


async def audited(session: AsyncSession, user_id: int | None) -> list[tuple[str, object]]:
    query = (
        select(AuditEvent)
        .where(col(AuditEvent.entity_type) == "user", col(AuditEvent.entity_id) == str(user_id))
        .order_by(col(AuditEvent.id))
    )
    return [(e.action, e.after) for e in (await session.execute(query)).scalars()]


class TestAudit:
    async def test_each_end_of_sessions_is_audited_with_its_reason(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.accountant)
        assert (
            await client.post("/api/v1/auth/logout", headers=bearer(settings, user))
        ).status_code == 204
        await auth_service.change_role(session, user, Role.admin)
        await session.flush()
        assert await audited(session, user.id) == [
            ("user.created", {"email": user.email, "role": "accountant"}),
            ("user.sessions_ended", {"session_epoch": 1, "reason": "logout"}),
            ("user.role_changed", {"role": "admin"}),
            ("user.sessions_ended", {"session_epoch": 2, "reason": "role_changed"}),
        ]

    async def test_the_same_role_again_changes_nothing(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.accountant)
        client.cookies.set(SESSION_COOKIE, session_cookie(settings, user))
        await auth_service.change_role(session, user, Role.accountant)
        assert (await client.get("/accounting", headers={"accept": "text/html"})).status_code == 200
        assert [action for action, _ in await audited(session, user.id)] == ["user.created"]


class TestTokensOfBefore:
    async def test_a_token_without_an_epoch_is_refused(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        """Tokens issued before sessions could end carry no epoch: nothing can end them."""
        user = await create_user(session, Role.accountant)
        claims = {"sub": str(user.id), "role": "accountant", "typ": "access", "exp": 4102444800}
        token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
        response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "not_authenticated")
