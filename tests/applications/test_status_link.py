"""A lost status link sent again, in the service and the API: mailed only to the e-mail an
application was made with, the same answer whoever asks, and the throttles."""

import uuid
from datetime import timedelta

import time_machine
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications.models import Notification
from tests.core.test_errors import assert_problem
from tests.fixtures.applications import create_application
from tests.fixtures.factories import create_programme
from voucher_service.applications import links, status_link
from voucher_service.applications.errors import TooManyStatusLinkRequests
from voucher_service.applications.models import (
    Application,
    ApplicationStatus,
    StatusLinkRequest,
)
from voucher_service.applications.schemas import StatusLinkAsk
from voucher_service.applications.status_link import MAILS_PER_APPLICANT, PER_ADDRESS
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings

ASK = "/api/v1/applications/status-link"


def an_address() -> str:
    """An address of the test's own, so that requests committed by other tests never count."""
    return uuid.uuid4().hex


def an_email() -> str:
    return f"elodie.{uuid.uuid4().hex[:8]}@example.fr"


async def ask_link(
    session: AsyncSession, settings: Settings, siret: str, email: str, address: str
) -> None:
    """What the endpoint and the page do: record the request, then, after the answer, mail."""
    body = StatusLinkAsk(siret=siret, email=email)
    asked = await status_link.request_link(session, settings, body, address)
    await status_link.mail_link(session, settings, asked)


async def links_to(session: AsyncSession, email: str) -> list[str]:
    query = select(Notification).where(
        col(Notification.recipient) == email, col(Notification.event) == "status_link"
    )
    return [str(n.data["status_url"]) for n in (await session.execute(query)).scalars()]


async def an_application(session: AsyncSession, **overrides: object) -> Application:
    programme = await create_programme(session)
    return await create_application(
        session, programme, ApplicationStatus.approved, email=an_email(), **overrides
    )


class TestRequestLink:
    async def test_the_link_goes_to_the_applications_e_mail_only(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        application = await an_application(session)
        assert application.email is not None
        typed = f"  {application.email.upper()} "
        await ask_link(session, settings, application.siret, typed, an_address())
        assert await links_to(session, application.email) == [
            links.status_url(settings, application)
        ]
        stranger = an_email()
        await ask_link(session, settings, application.siret, stranger, an_address())
        assert await links_to(session, stranger) == []

    async def test_another_siret_with_the_same_e_mail_gets_nothing(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        application = await an_application(session)
        other = await an_application(session)
        assert application.email is not None
        await ask_link(session, settings, other.siret, application.email, an_address())
        assert await links_to(session, application.email) == []

    async def test_the_request_log_holds_no_personal_data(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        application = await an_application(session)
        assert application.email is not None
        body = StatusLinkAsk(siret=application.siret, email=application.email)
        await status_link.request_link(session, settings, body, an_address())
        latest = select(StatusLinkRequest).order_by(col(StatusLinkRequest.id).desc()).limit(1)
        [stored] = (await session.execute(latest)).scalars()
        assert application.siret not in stored.key_hash
        assert len(stored.key_hash) == 64

    async def test_beyond_the_limit_per_applicant_nothing_more_is_sent(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        application = await an_application(session)
        assert application.email is not None
        for _ in range(MAILS_PER_APPLICANT + 2):
            await ask_link(session, settings, application.siret, application.email, an_address())
        assert len(await links_to(session, application.email)) == MAILS_PER_APPLICANT
        with time_machine.travel(utcnow() + timedelta(minutes=61), tick=True):
            await ask_link(session, settings, application.siret, application.email, an_address())
        assert len(await links_to(session, application.email)) == MAILS_PER_APPLICANT + 1

    async def test_beyond_the_limit_per_address_it_waits_longer_each_time(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        application = await an_application(session)
        address = an_address()
        for _ in range(PER_ADDRESS.free):
            await ask_link(session, settings, application.siret, an_email(), address)
        try:
            await ask_link(session, settings, application.siret, an_email(), address)
        except TooManyStatusLinkRequests as refused:
            assert refused.headers["Retry-After"] in ("59", "60")
            assert "Réessayez dans" in (refused.detail or "")
        else:
            raise AssertionError("the request over the limit went through")
        with time_machine.travel(utcnow() + timedelta(seconds=61), tick=True):
            await ask_link(session, settings, application.siret, an_email(), address)
            try:
                await ask_link(session, settings, application.siret, an_email(), address)
            except TooManyStatusLinkRequests as refused:
                assert int(refused.headers["Retry-After"]) > 60  # the delay doubled
            else:
                raise AssertionError("the delay did not grow")
        await ask_link(session, settings, application.siret, an_email(), an_address())


class TestApi:
    async def test_the_answer_is_the_same_whoever_asks(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        application = await an_application(session)
        assert application.email is not None
        bodies = [
            {"siret": application.siret, "email": application.email},
            {"siret": application.siret, "email": an_email()},
            {"siret": "73282932000074", "email": an_email()},
        ]
        answers = [await client.post(ASK, json=body) for body in bodies]
        assert {(a.status_code, a.text, a.headers["content-type"]) for a in answers} == {
            (202, answers[0].text, "application/json")
        }
        assert "lien de suivi" in answers[0].json()["detail"]
        assert await links_to(session, application.email) == [
            links.status_url(settings, application)
        ]

    async def test_malformed_requests_are_problems(self, client: AsyncClient) -> None:
        for body in (
            {"siret": "123", "email": "a@b.fr"},
            {"siret": "73282932000074", "email": "pas une adresse"},
            {"siret": "73282932000074"},
            {},
        ):
            response = await client.post(ASK, json=body)
            assert_problem(response, 422, "validation_error")

    async def test_an_address_over_its_limit_is_told_when_to_come_back(self, app: FastAPI) -> None:
        transport = ASGITransport(app=app, client=(f"192.0.2.{uuid.uuid4().int % 250}", 4000))
        body = {"siret": "73282932000074", "email": "personne@example.fr"}
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            for _ in range(PER_ADDRESS.free):
                assert (await client.post(ASK, json=body)).status_code == 202
            throttled = await client.post(ASK, json=body)
        assert_problem(throttled, 429, "too_many_status_link_requests")
        assert throttled.headers["retry-after"] in ("59", "60")
