"""The demo's registry of fictitious companies (MCD_REGISTRY_URL=demo): through the form's
API, each company gets the outcome it is listed with, decided by what the registry says
(declarations alone would pass), and a SIRET it does not know goes to review."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.applications.test_submit import URL, only_this_tests_programmes, rules
from tests.fixtures.applications import application_body
from tests.fixtures.factories import create_programme
from voucher_service.applications.fictitious_registry import COMPANIES, FictitiousCompany
from voucher_service.applications.registry import Lookup, RegistryClient

__all__ = ["only_this_tests_programmes"]
# The rule that refuses each company that is listed as not eligible.
REFUSED_BY = {
    "non éligible : hors de la région": "department_in_region",
    "non éligible : trop grande": "headcount",
    "non éligible : fermée": "establishment_active",
}


@pytest.fixture
def fictitious(app: FastAPI) -> RegistryClient:
    registry = RegistryClient("demo")
    app.state.registry = registry
    return registry


@pytest.mark.parametrize("company", COMPANIES, ids=lambda company: company.siret)
async def test_each_company_gets_the_outcome_it_is_listed_with(
    client: AsyncClient,
    session: AsyncSession,
    fictitious: RegistryClient,
    company: FictitiousCompany,
) -> None:
    programme = await create_programme(session)
    # A declaration within every ceiling (and within the registry's band when it can be):
    # only the registry can refuse.
    headcount = {"02": 4, "03": 7, "11": 12}.get(company.headcount_band, 12)
    body = application_body(company.siret, programme_id=programme.id, headcount=headcount)
    body["annual_turnover_eur"] = min(company.turnover_eur, 1_500_000)
    response = await client.post(URL, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    outcomes = rules(created)
    if company.what_it_shows == "éligible":
        assert set(outcomes.values()) == {"pass"}, created["eligibility"]
        assert created["status"] == "eligible"
    else:
        assert created["status"] == "ineligible"
        assert outcomes[REFUSED_BY[company.what_it_shows]] == "fail"


async def test_a_siret_it_does_not_know_goes_to_review(
    client: AsyncClient, session: AsyncSession, fictitious: RegistryClient
) -> None:
    programme = await create_programme(session)
    response = await client.post(URL, json=application_body(programme_id=programme.id))
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "needs_review"


async def test_it_answers_in_the_registry_s_shape_without_leaving_the_process() -> None:
    registry = RegistryClient("DEMO ")
    try:
        answer = await registry.lookup(COMPANIES[0].siret)
    finally:
        await registry.aclose()
    assert answer.lookup is Lookup.found and answer.company is not None
    assert answer.company.name == COMPANIES[0].name
    assert answer.company.establishment is not None
    assert answer.company.establishment.department == COMPANIES[0].department
    assert registry.base_url.endswith(".invalid")  # a name that resolves nowhere
