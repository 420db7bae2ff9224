"""Password reset by e-mail, in the service and the API: who gets a link, the one answer
everyone gets, the throttle, one use of a link before it expires, and the audit row."""

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts import registry as expert_registry
from experts.schemas import ExpertCreate
from notifications.models import Notification
from notifications.service import enqueue
from tests.core.test_errors import assert_problem
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import FACTORY_SETTINGS, create_user, expert_body
from voucher_service.core import audit
from voucher_service.core.auth import reset
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import PasswordReset, Role, User
from voucher_service.core.auth.tokens import link_token_hash
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings


async def ask_reset(session: AsyncSession, settings: Settings, email: str, address: str) -> None:
    """What the endpoints do: record the request, then, after the answer, mail the link."""
    asked = await reset.request_reset(session, settings, email, address)
    await reset.mail_link(session, settings, enqueue, asked)


NEW_PASSWORD = "a brand new long password"
ASK = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"


def an_address() -> str:
    """An address of the test's own, so that requests committed by other tests never count."""
    return uuid.uuid4().hex


async def mails_to(session: AsyncSession, email: str) -> list[Notification]:
    query = select(Notification).where(
        col(Notification.recipient) == email, col(Notification.event) == "password_reset"
    )
    return list((await session.execute(query)).scalars())


async def link_for(session: AsyncSession, settings: Settings, user: User) -> str:
    """Ask for a reset and return the token of the link mailed to the user."""
    await ask_reset(session, settings, user.email, an_address())
    url = (await mails_to(session, user.email))[-1].data["reset_url"]
    return str(url).rsplit("/", 1)[1]


async def resets_of(session: AsyncSession, user: User) -> list[PasswordReset]:
    query = select(PasswordReset).where(col(PasswordReset.user_id) == user.id)
    return list((await session.execute(query.execution_options(populate_existing=True))).scalars())


class TestRequestReset:
    @pytest.mark.parametrize("role", list(Role))
    async def test_an_active_account_is_mailed_a_link_of_30_minutes(
        self, session: AsyncSession, settings: Settings, role: Role
    ) -> None:
        user = await create_user(session, role)
        before = utcnow()
        await ask_reset(session, settings, f"  {user.email.upper()} ", "203.0.113.9")
        [mail] = await mails_to(session, user.email)
        url = urlsplit(mail.data["reset_url"])
        assert f"{url.scheme}://{url.netloc}" == settings.public_url
        token = url.path.removeprefix("/password-reset/")
        [row] = await resets_of(session, user)
        assert row.token_hash == link_token_hash(token) and token not in row.token_hash
        assert row.address == "203.0.113.9" and row.used_at is None
        lifetime = timedelta(minutes=30)
        assert before + lifetime <= row.expires_at <= utcnow() + lifetime
        assert mail.data["minutes"] == 30

    async def test_inactive_or_uninvited_accounts_and_strangers_get_no_mail(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        inactive = await create_user(session, Role.admin)
        inactive.is_active = False
        body = ExpertCreate.model_validate(expert_body(password=None))
        uninvited, _ = await expert_registry.register(session, body, FACTORY_SETTINGS)
        links = select(func.count()).select_from(PasswordReset)
        links_before = (await session.execute(links)).scalar_one()
        for email in (inactive.email, uninvited.email, "nobody@example.fr"):
            await ask_reset(session, settings, email, an_address())
            assert await mails_to(session, email) == []
        assert (await session.execute(links)).scalar_one() == links_before

    async def test_beyond_three_an_hour_per_email_nothing_more_is_sent(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.accountant)
        for _ in range(settings.password_reset_max_per_email + 2):
            await ask_reset(session, settings, user.email, an_address())
        assert len(await mails_to(session, user.email)) == 3
        with time_machine.travel(utcnow() + timedelta(minutes=61), tick=True):
            await ask_reset(session, settings, user.email, an_address())
            assert len(await mails_to(session, user.email)) == 4

    async def test_beyond_the_limit_per_address_it_is_429(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        limited = make_settings(settings.database_url, password_reset_max_per_address=2)
        address = an_address()
        for number in range(2):
            await ask_reset(session, limited, f"stranger{number}@example.fr", address)
        with pytest.raises(reset.TooManyResetRequests) as refused:
            await ask_reset(session, limited, "stranger9@example.fr", address)
        assert refused.value.headers["Retry-After"] == "3600"
        await ask_reset(session, limited, "stranger9@example.fr", an_address())


class TestCompleteReset:
    async def test_the_link_sets_the_password_once_and_is_audited(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.expert)
        first = await link_for(session, settings, user)
        second = await link_for(session, settings, user)
        await reset.complete_reset(session, second, NEW_PASSWORD)
        address = an_address()
        signed_in = await auth_service.authenticate(
            session, settings, user.email, NEW_PASSWORD, address
        )
        assert signed_in.id == user.id
        assert all(row.used_at is not None for row in await resets_of(session, user))
        for used in (second, first):  # this link, and every other pending one of the user
            with pytest.raises(reset.ResetLinkInvalid):
                await reset.complete_reset(session, used, "yet another long password")
        action = col(audit.AuditEvent.action)
        query = select(audit.AuditEvent).where(action == "user.password_reset")
        [event] = (await session.execute(query)).scalars()
        assert event.entity_type == "user" and event.entity_id == str(user.id)
        recorded = str(event.before) + str(event.after)
        hashes = [row.token_hash for row in await resets_of(session, user)]
        assert not any(secret in recorded for secret in (first, second, *hashes))

    async def test_an_expired_link_is_refused(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.admin)
        token = await link_for(session, settings, user)
        with time_machine.travel(utcnow() + timedelta(minutes=31), tick=True):
            assert not await reset.is_usable(session, token)
            with pytest.raises(reset.ResetLinkInvalid):
                await reset.complete_reset(session, token, NEW_PASSWORD)
        assert await reset.is_usable(session, token)

    async def test_an_account_deactivated_since_the_request_is_refused(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.accountant)
        token = await link_for(session, settings, user)
        user.is_active = False
        with pytest.raises(reset.ResetLinkInvalid):
            await reset.complete_reset(session, token, NEW_PASSWORD)


async def ask(client: AsyncClient, email: str) -> Response:
    return await client.post(ASK, json={"email": email})


class TestApi:
    async def test_the_answer_is_the_same_whoever_asks(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        active = await create_user(session, Role.admin)
        inactive = await create_user(session, Role.accountant)
        inactive.is_active = False
        answers = [await ask(client, e) for e in (active.email, inactive.email, "no@example.fr")]
        assert {(a.status_code, a.text, a.headers["content-type"]) for a in answers} == {
            (202, answers[0].text, "application/json")
        }
        assert "30 minutes" in answers[0].json()["detail"]
        assert len(await mails_to(session, active.email)) == 1
        assert await mails_to(session, inactive.email) == []

    async def test_malformed_requests_are_problems(self, client: AsyncClient) -> None:
        for body in ({"email": "not an e-mail"}, {}, {"email": "a@b.fr", "role": "admin"}):
            response = await client.post(ASK, json=body)
            assert_problem(response, 422, "validation_error")
        short = await client.post(CONFIRM, json={"token": "x", "password": "short"})
        assert_problem(short, 422, "validation_error")

    async def test_a_token_confirms_once(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        user = await create_user(session, Role.expert)
        token = await link_for(session, settings, user)
        done = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
        assert done.status_code == 200 and "enregistré" in done.json()["detail"]
        again = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
        assert_problem(again, 410, "reset_link_invalid")
        unknown = await client.post(CONFIRM, json={"token": "forged", "password": NEW_PASSWORD})
        assert_problem(unknown, 410, "reset_link_invalid")

    async def test_an_address_over_its_limit_is_told_when_to_come_back(
        self, app: FastAPI, settings: Settings
    ) -> None:
        app.state.settings = make_settings(settings.database_url, password_reset_max_per_address=1)
        transport = ASGITransport(app=app, client=("192.0.2.77", 4000))
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await ask(client, "first@example.fr")).status_code == 202
            throttled = await ask(client, "second@example.fr")
        assert_problem(throttled, 429, "too_many_reset_requests")
        assert throttled.headers["retry-after"] == "3600"
