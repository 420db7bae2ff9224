"""Programmes: admin API, rules versions, and an envelope that never overflows."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.core.test_errors import assert_problem
from tests.fixtures.audit import actions_of, the_event
from tests.fixtures.factories import (
    HeadersFor,
    close_committed_programmes,
    create_programme,
    programme_body,
)
from voucher_service.applications import eligibility
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.programmes import service
from voucher_service.programmes.errors import BudgetExhausted, NoOpenProgramme
from voucher_service.programmes.models import Programme, ProgrammeRulesVersion

URL = "/api/v1/programmes"


class TestCreate:
    async def test_admin_creates_a_programme(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        body = programme_body(departments=["84", "13", "13"])
        response = await client.post(URL, json=body, headers=await headers_for(Role.admin))
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["departments"] == ["13", "84"]
        assert created["balance_cents"] == body["budget_cents"]
        assert created["rules_version"] == 1

    async def test_other_roles_are_refused(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        for role in (Role.accountant, Role.expert):
            response = await client.post(
                URL, json=programme_body(), headers=await headers_for(role)
            )
            assert_problem(response, 403, "forbidden")
        assert_problem(await client.get(URL), 401, "not_authenticated")

    async def test_invalid_fields_are_named(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        body = programme_body(departments=["13", "99"], cheque_amount_cents=0)
        response = await client.post(URL, json=body, headers=await headers_for(Role.admin))
        problem = assert_problem(response, 422, "validation_error")
        fields = {tuple(error["loc"]) for error in problem["errors"]}
        assert ("body", "departments", 1) in fields and ("body", "cheque_amount_cents") in fields

    async def test_window_in_order(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        body = programme_body(opens_on="2027-12-31", closes_on="2027-01-01")
        response = await client.post(URL, json=body, headers=await headers_for(Role.admin))
        assert_problem(response, 422, "validation_error")

    async def test_duplicate_name(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        headers = await headers_for(Role.admin)
        body = programme_body()
        assert (await client.post(URL, json=body, headers=headers)).status_code == 201
        assert_problem(
            await client.post(URL, json=body, headers=headers), 409, "programme_name_taken"
        )


class TestEdit:
    async def test_rule_change_makes_a_new_version(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        programme = await create_programme(session)
        headers = await headers_for(Role.admin)
        renamed = await client.patch(
            f"{URL}/{programme.id}", json={"name": "Renommé 2027"}, headers=headers
        )
        assert renamed.json()["rules_version"] == 1
        edited = await client.patch(
            f"{URL}/{programme.id}", json={"max_headcount": 9}, headers=headers
        )
        assert edited.status_code == 200 and edited.json()["rules_version"] == 2
        versions = (
            (
                await session.execute(
                    select(ProgrammeRulesVersion)
                    .where(col(ProgrammeRulesVersion.programme_id) == programme.id)
                    .order_by(col(ProgrammeRulesVersion.version))
                )
            )
            .scalars()
            .all()
        )
        assert [(v.version, v.rules["max_headcount"]) for v in versions] == [(1, 19), (2, 9)]

    async def test_unknown_programme(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        response = await client.patch(
            f"{URL}/999999", json={"name": "Nouveau nom"}, headers=await headers_for(Role.admin)
        )
        assert_problem(response, 404, "programme_not_found")

    async def test_budget_cannot_drop_below_committed(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        programme, response = await lower_budget(client, session, headers_for, 500_000)
        assert_problem(response, 409, "budget_below_committed")
        await session.refresh(programme)
        assert programme.budget_cents == 1_000_000

    async def test_budget_can_drop_to_what_is_committed(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        _, response = await lower_budget(client, session, headers_for, 600_000)
        assert response.status_code == 200, response.text
        assert response.json()["budget_cents"] == 600_000
        assert response.json()["committed_cents"] == 600_000
        assert response.json()["name"] == "Enveloppe réduite"


async def lower_budget(
    client: AsyncClient, session: AsyncSession, headers_for: HeadersFor, budget_cents: int
) -> tuple[Programme, Response]:
    """A programme of 10,000 EUR with 6,000 EUR committed, renamed with a new budget."""
    programme = await create_programme(session, budget_cents=1_000_000)
    assert programme.id is not None
    await service.commit_budget(session, programme.id, 600_000)
    response = await client.patch(
        f"{URL}/{programme.id}",
        json={"budget_cents": budget_cents, "name": "Enveloppe réduite"},
        headers=await headers_for(Role.admin),
    )
    return programme, response


class TestEnvelope:
    async def test_commit_until_exhausted_then_release(self, session: AsyncSession) -> None:
        programme = await create_programme(session, budget_cents=500_000)
        assert programme.id is not None
        await service.commit_budget(session, programme.id, 200_000)
        await service.commit_budget(session, programme.id, 200_000)
        with pytest.raises(BudgetExhausted):
            await service.commit_budget(session, programme.id, 200_000)
        assert programme.committed_cents == 400_000
        await service.release_budget(session, programme.id, 200_000)
        assert programme.balance_cents == 300_000


class TestEditCoherence:
    async def test_an_edit_that_breaks_the_window_is_422(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        programme = await create_programme(session)
        response = await client.patch(
            f"{URL}/{programme.id}",
            json={"opens_on": "2999-01-01"},
            headers=await headers_for(Role.admin),
        )
        assert_problem(response, 422, "validation_error")


class TestFrozenOnceOpen:
    async def test_the_cheque_amount_and_opening_day_of_an_open_programme_stay(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        programme = await create_programme(session)
        headers = await headers_for(Role.admin)
        for change in ({"cheque_amount_cents": 150_000}, {"opens_on": paris_today().isoformat()}):
            response = await client.patch(f"{URL}/{programme.id}", json=change, headers=headers)
            problem = assert_problem(response, 409, "programme_field_frozen")
            assert "ne peuvent plus changer" in problem["detail"]
        await session.refresh(programme)
        assert programme.cheque_amount_cents == 200_000 and programme.rules_version == 1
        same = {"cheque_amount_cents": 200_000, "max_headcount": 9}
        assert (await client.patch(f"{URL}/{programme.id}", json=same, headers=headers)).is_success

    async def test_a_programme_not_open_yet_may_change_them(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        later = paris_today() + timedelta(days=10)
        programme = await create_programme(session, opens_on=later.isoformat())
        opens_on = (later + timedelta(days=1)).isoformat()
        change = {"cheque_amount_cents": 150_000, "opens_on": opens_on}
        response = await client.patch(
            f"{URL}/{programme.id}", json=change, headers=await headers_for(Role.admin)
        )
        assert response.status_code == 200, response.text
        assert response.json()["cheque_amount_cents"] == 150_000


class TestClose:
    async def test_a_closed_programme_takes_no_more_applications(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        await close_committed_programmes(session)
        programme = await create_programme(session)
        assert (await service.open_on(session, paris_today())).id == programme.id
        response = await client.post(
            f"{URL}/{programme.id}/close", headers=await headers_for(Role.admin)
        )
        assert response.status_code == 200, response.text
        assert response.json()["closed_at"] is not None
        await session.refresh(programme)
        assert not programme.is_open(paris_today())
        with pytest.raises(NoOpenProgramme):
            await service.open_on(session, paris_today())
        closed = await the_event(session, "programme", programme.id, "programme.closed")
        assert closed.before is not None and closed.after is not None
        assert closed.before["closed_at"] is None and closed.after["closed_at"] is not None

    async def test_closing_twice_is_409(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        programme = await create_programme(session)
        headers = await headers_for(Role.admin)
        await client.post(f"{URL}/{programme.id}/close", headers=headers)
        again = await client.post(f"{URL}/{programme.id}/close", headers=headers)
        assert_problem(again, 409, "programme_already_closed")

    async def test_the_eligibility_report_says_it_was_closed(self, session: AsyncSession) -> None:
        programme = await create_programme(session)
        assert programme.id is not None
        await service.close(session, programme.id)
        facts = SimpleNamespace(programme=programme, today=paris_today())
        result = eligibility.programme_open(facts)  # type: ignore[arg-type]
        assert result.outcome == "fail" and "clôturé le" in result.reason


class TestEnvelopeAudit:
    async def test_a_budget_change_is_audited_with_before_and_after(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        programme = await create_programme(session, budget_cents=1_000_000)
        response = await client.patch(
            f"{URL}/{programme.id}",
            json={"budget_cents": 1_500_000},
            headers=await headers_for(Role.admin),
        )
        assert response.status_code == 200
        edited = await the_event(session, "programme", programme.id, "programme.edited")
        assert edited.before is not None and edited.after is not None
        assert edited.before["budget_cents"] == 1_000_000
        assert edited.after["budget_cents"] == 1_500_000

    async def test_the_refusal_says_what_is_committed(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        programme, response = await lower_budget(client, session, headers_for, 500_000)
        problem = assert_problem(response, 409, "budget_below_committed")
        assert "6\u202f000,00\u00a0€ sont déjà engagés" in problem["detail"]
        assert await actions_of(session, "programme", programme.id) == ["programme.created"]
