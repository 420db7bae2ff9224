"""POST /api/v1/applications: validation, eligibility against the registry, duplicates."""

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.core.test_errors import assert_problem
from tests.fixtures.applications import application_body
from tests.fixtures.factories import close_committed_programmes, create_programme
from tests.fixtures.registry import SIRETS, FakeRegistry
from voucher_service.applications.models import Application
from voucher_service.applications.registry import RegistryClient
from voucher_service.core.audit import AuditEvent

URL = "/api/v1/applications"


@pytest.fixture(autouse=True)
async def only_this_tests_programmes(session: AsyncSession) -> None:
    await close_committed_programmes(session)


@pytest.fixture
def online(app: FastAPI, fake_registry: FakeRegistry) -> FakeRegistry:
    """The app asks the loopback registry, with short timeouts."""
    app.state.registry = RegistryClient(fake_registry.url, timeout=0.3, deadline=1.0)
    return fake_registry


def rules(body: dict[str, Any]) -> dict[str, str]:
    return {rule["rule"]: rule["outcome"] for rule in body["eligibility"]["rules"]}


async def stored(session: AsyncSession, application_id: int) -> Application:
    application = await session.get(Application, application_id, populate_existing=True)
    assert application is not None
    return application


class TestSubmit:
    async def test_an_eligible_company_in_13(
        self, client: AsyncClient, session: AsyncSession, online: FakeRegistry
    ) -> None:
        programme = await create_programme(session)
        body = application_body(SIRETS.marseille, programme_id=programme.id)
        response = await client.post(URL, json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["status"] == "eligible"
        assert set(rules(created).values()) == {"pass"}
        assert created["eligibility"]["rules_version"] == programme.rules_version
        assert created["status_url"].startswith("http://testserver/status/")
        application = await stored(session, created["id"])
        assert (application.department, application.phone) == ("13", "+33491000000")

    async def test_the_programme_may_be_left_out_while_one_is_open(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        response = await client.post(URL, json=application_body())
        assert response.status_code == 201, response.text

    async def test_no_open_programme(self, client: AsyncClient, session: AsyncSession) -> None:
        await create_programme(session, opens_on="2020-01-01", closes_on="2020-12-31")
        assert_problem(await client.post(URL, json=application_body()), 422, "no_open_programme")

    @pytest.mark.parametrize(
        ("siret", "status", "rule", "outcome"),
        [
            (SIRETS.paris, "ineligible", "department_in_region", "fail"),
            (SIRETS.papeete, "ineligible", "department_in_region", "fail"),
            (SIRETS.saint_martin_branch, "ineligible", "department_in_region", "fail"),
            (SIRETS.branch_in_13, "eligible", "department_in_region", "pass"),
            (SIRETS.closed, "ineligible", "company_active", "fail"),
            (SIRETS.hidden, "needs_review", "department_in_region", "unknown"),
            (SIRETS.unknown, "needs_review", "company_active", "unknown"),
            (SIRETS.big_turnover, "needs_review", "declarations_consistent", "fail"),
        ],
        ids=[
            "paris",
            "polynesia",
            "saint-martin",
            "branch-in-13",
            "closed",
            "non-diffusible",
            "not-found",
            "contradiction",
        ],
    )
    async def test_registry_situations(
        self,
        client: AsyncClient,
        session: AsyncSession,
        online: FakeRegistry,
        siret: str,
        status: str,
        rule: str,
        outcome: str,
    ) -> None:
        await create_programme(session)
        response = await client.post(URL, json=application_body(siret))
        assert response.status_code == 201, response.text
        assert response.json()["status"] == status
        assert rules(response.json())[rule] == outcome

    @pytest.mark.parametrize("siret", [SIRETS.broken, SIRETS.hanging], ids=["500", "hanging"])
    async def test_a_registry_that_fails_leaves_the_application_for_review(
        self, client: AsyncClient, session: AsyncSession, online: FakeRegistry, siret: str
    ) -> None:
        await create_programme(session)
        response = await client.post(URL, json=application_body(siret))
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["status"] == "needs_review"
        assert created["eligibility"]["registry"] == "unreachable"
        assert (await stored(session, created["id"])).status == "needs_review"

    async def test_offline_checks_what_needs_no_registry(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        created = (await client.post(URL, json=application_body())).json()
        assert created["status"] == "needs_review"
        assert created["eligibility"]["registry"] == "offline"
        assert rules(created)["turnover"] == "pass"
        assert rules(created)["company_active"] == "unknown"

    async def test_the_audit_trail_keeps_no_personal_data(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        created = (await client.post(URL, json=application_body())).json()
        query = select(AuditEvent).where(
            col(AuditEvent.action) == "application.submitted",
            col(AuditEvent.entity_id) == str(created["id"]),
        )
        event = (await session.execute(query)).scalar_one()
        assert "elodie" not in str(event.after).lower() and "+33" not in str(event.after)


class TestValidation:
    async def test_every_invalid_field_is_named(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        body = application_body(
            siret="73282932000075",
            email="not-an-email",
            phone="12",
            headcount=-1,
            annual_turnover_eur="beaucoup",
            de_minimis_aid_eur=-5,
            consent=False,
            de_minimis_attestation=False,
            company_name="",
            contact_name="",
        )
        del body["theme"]
        problem = assert_problem(await client.post(URL, json=body), 422, "validation_error")
        named = {error["loc"][-1] for error in problem["errors"]}
        assert named == {
            "siret",
            "email",
            "phone",
            "headcount",
            "annual_turnover_eur",
            "de_minimis_aid_eur",
            "consent",
            "de_minimis_attestation",
            "company_name",
            "contact_name",
            "theme",
        }
        assert all(error["loc"][0] == "body" for error in problem["errors"])

    async def test_values_are_normalised(self, client: AsyncClient, session: AsyncSession) -> None:
        await create_programme(session)
        body = application_body(
            siret="732 829 320 00074", email="Elodie.Martin@Example.FR", phone="04 91 00 00 00"
        )
        created = (await client.post(URL, json=body)).json()
        application = await stored(session, created["id"])
        assert application.siret == "73282932000074" and application.siren == "732829320"
        assert application.email == "elodie.martin@example.fr"
        assert application.phone == "+33491000000"

    async def test_la_poste_establishments_are_valid(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        response = await client.post(URL, json=application_body("35600000049837"))
        assert response.status_code == 201, response.text


class TestDuplicates:
    async def test_the_same_form_twice_answers_with_the_existing_status_url(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        body = application_body()
        first = (await client.post(URL, json=body)).json()
        problem = assert_problem(await client.post(URL, json=body), 409, "duplicate_application")
        assert problem["status_url"] == first["status_url"]

    async def test_someone_else_is_not_given_the_status_url(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        body = application_body()
        await client.post(URL, json=body)
        other = {**body, "email": "someone.else@example.fr"}
        problem = assert_problem(await client.post(URL, json=other), 409, "duplicate_application")
        assert "status_url" not in problem

    async def test_a_refused_application_frees_the_place(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await create_programme(session)
        body = application_body(annual_turnover_eur=9_000_000)
        assert (await client.post(URL, json=body)).json()["status"] == "ineligible"
        body["annual_turnover_eur"] = 900_000
        assert (await client.post(URL, json=body)).status_code == 201
