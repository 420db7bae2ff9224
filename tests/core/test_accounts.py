"""Administrators manage logins through the API: open an account whose owner chooses the
password from an e-mailed link, list, change a role, deactivate, send a reset link; never
to their own account. Every change is audited and ends the user's sessions."""

import uuid

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications.models import Notification
from tests.core.test_errors import assert_problem
from tests.fixtures.audit import actions_of, the_event
from tests.fixtures.factories import bearer, create_user
from voucher_service.core.auth.models import Role, User
from voucher_service.core.config import Settings

USERS = "/api/v1/users"
CONFIRM = "/api/v1/auth/password-reset/confirm"
PASSWORD = "un mot de passe choisi par moi"


def an_email() -> str:
    return f"compte-{uuid.uuid4().hex[:12]}@maregionsud.fr"


async def mails(session: AsyncSession, email: str, event: str) -> list[Notification]:
    query = select(Notification).where(
        col(Notification.recipient) == email, col(Notification.event) == event
    )
    return list((await session.execute(query)).scalars())


async def admin_headers(session: AsyncSession, settings: Settings) -> tuple[User, dict[str, str]]:
    admin = await create_user(session, Role.admin)
    return admin, bearer(settings, admin)


class TestOpenAccount:
    async def test_without_a_password_the_owner_chooses_it_from_the_link(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        _, headers = await admin_headers(session, settings)
        email = an_email()
        response = await client.post(
            USERS, json={"email": email, "role": "accountant"}, headers=headers
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["role"] == "accountant" and created["is_active"] is True
        [mail] = await mails(session, email, "account_created")
        assert mail.data["role_label"] == "Comptable"
        token = str(mail.data["reset_url"]).rsplit("/", 1)[1]
        chosen = await client.post(CONFIRM, json={"token": token, "password": PASSWORD})
        assert chosen.status_code == 200, chosen.text
        login = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        assert await actions_of(session, "user", created["id"]) == [
            "user.created",
            "user.password_changed",
            "user.sessions_ended",
            "user.password_reset",
        ]

    async def test_with_a_password_nothing_is_mailed(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        _, headers = await admin_headers(session, settings)
        email = an_email()
        body = {"email": email, "role": "expert", "password": PASSWORD}
        assert (await client.post(USERS, json=body, headers=headers)).status_code == 201
        assert await mails(session, email, "account_created") == []

    async def test_an_email_already_used_is_409(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        admin, headers = await admin_headers(session, settings)
        response = await client.post(
            USERS, json={"email": admin.email, "role": "expert"}, headers=headers
        )
        assert_problem(response, 409, "email_taken")

    async def test_others_are_refused(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        accountant = await create_user(session, Role.accountant)
        response = await client.post(
            USERS, json={"email": an_email(), "role": "admin"}, headers=bearer(settings, accountant)
        )
        assert_problem(response, 403, "forbidden")


class TestList:
    async def test_every_login_is_listed(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        admin, headers = await admin_headers(session, settings)
        expert = await create_user(session, Role.expert)
        listed = (await client.get(USERS, headers=headers)).json()
        by_email = {user["email"]: user for user in listed}
        assert by_email[expert.email]["role"] == "expert"
        assert by_email[admin.email]["role"] == "admin"


class TestChanges:
    async def test_a_role_change_ends_the_sessions_and_is_audited(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        _, headers = await admin_headers(session, settings)
        user = await create_user(session, Role.expert)
        old = bearer(settings, user)
        response = await client.post(
            f"{USERS}/{user.id}/role", json={"role": "accountant"}, headers=headers
        )
        assert response.status_code == 200 and response.json()["role"] == "accountant"
        assert_problem(await client.get("/api/v1/auth/me", headers=old), 401, "not_authenticated")
        changed = await the_event(session, "user", user.id, "user.role_changed")
        assert (changed.before, changed.after) == ({"role": "expert"}, {"role": "accountant"})

    async def test_deactivation_ends_the_sessions_and_reactivation_revives_none(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        _, headers = await admin_headers(session, settings)
        user = await create_user(session, Role.accountant)
        old = bearer(settings, user)
        response = await client.post(f"{USERS}/{user.id}/deactivate", headers=headers)
        assert response.status_code == 200 and response.json()["is_active"] is False
        assert_problem(await client.get("/api/v1/auth/me", headers=old), 401, "not_authenticated")
        assert (await client.post(f"{USERS}/{user.id}/activate", headers=headers)).json()[
            "is_active"
        ]
        assert_problem(await client.get("/api/v1/auth/me", headers=old), 401, "not_authenticated")
        assert await actions_of(session, "user", user.id) == [
            "user.created",
            "user.deactivated",
            "user.sessions_ended",
            "user.activated",
        ]

    async def test_an_admin_cannot_demote_or_deactivate_themself(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        admin, headers = await admin_headers(session, settings)
        demote = await client.post(
            f"{USERS}/{admin.id}/role", json={"role": "expert"}, headers=headers
        )
        assert_problem(demote, 409, "own_account")
        assert_problem(
            await client.post(f"{USERS}/{admin.id}/deactivate", headers=headers), 409, "own_account"
        )
        await session.refresh(admin)
        assert admin.role is Role.admin and admin.is_active

    async def test_an_unknown_login_is_404(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        _, headers = await admin_headers(session, settings)
        response = await client.post(f"{USERS}/999999/deactivate", headers=headers)
        assert_problem(response, 404, "account_not_found")


class TestSendResetLink:
    async def test_the_user_is_mailed_a_link_and_the_sending_audited(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        _, headers = await admin_headers(session, settings)
        user = await create_user(session, Role.expert)
        response = await client.post(f"{USERS}/{user.id}/password-reset", headers=headers)
        assert response.status_code == 202 and user.email in response.json()["detail"]
        [mail] = await mails(session, user.email, "password_reset")
        assert mail.data["minutes"] == settings.password_reset_minutes
        sent = await the_event(session, "user", user.id, "user.reset_link_sent")
        assert sent.after == {"first_password": False}

    async def test_an_inactive_account_gets_none(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        _, headers = await admin_headers(session, settings)
        user = await create_user(session, Role.expert)
        await client.post(f"{USERS}/{user.id}/deactivate", headers=headers)
        response = await client.post(f"{USERS}/{user.id}/password-reset", headers=headers)
        assert_problem(response, 409, "account_inactive")
        assert await mails(session, user.email, "password_reset") == []
