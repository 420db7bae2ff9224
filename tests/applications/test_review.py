"""The review queue: list, read, approve within the envelope, reject, bulk, recheck, purge."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.core.test_errors import assert_problem
from tests.fixtures.applications import create_application
from tests.fixtures.factories import HeadersFor, create_programme
from tests.fixtures.registry import SIRETS, FakeRegistry
from voucher_service.applications import service
from voucher_service.applications.models import ApplicationStatus
from voucher_service.applications.registry import RegistryClient
from voucher_service.core import audit
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings

URL = "/api/v1/applications"
S = ApplicationStatus


@pytest.fixture
async def admin(headers_for: HeadersFor) -> dict[str, str]:
    return await headers_for(Role.admin)


class TestAccess:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", URL),
            ("get", f"{URL}/1"),
            ("post", f"{URL}/1/approve"),
            ("post", f"{URL}/1/reject"),
            ("post", f"{URL}/1/recheck"),
            ("post", f"{URL}/approve"),
        ],
    )
    async def test_admins_only(
        self, client: AsyncClient, headers_for: HeadersFor, method: str, path: str
    ) -> None:
        assert_problem(await client.request(method, path), 401, "not_authenticated")
        for role in (Role.expert, Role.accountant):
            response = await client.request(method, path, headers=await headers_for(role))
            assert_problem(response, 403, "forbidden")


class TestQueue:
    async def test_filters_and_pages(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session)
        await create_application(session, programme, S.eligible, theme="e-commerce")
        await create_application(session, programme, S.needs_review, department="06")
        await create_application(session, programme, S.needs_review, department=None)
        await create_application(session, programme, S.ineligible)

        async def ids(**query: object) -> list[int]:
            params: dict[str, Any] = {"programme_id": programme.id, **query}
            response = await client.get(URL, params=params, headers=admin)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        assert len(await ids()) == 4
        assert len(await ids(status="needs_review")) == 2
        assert len(await ids(theme="e-commerce")) == 1
        assert len(await ids(department="06", status="needs_review")) == 1
        page = (
            await client.get(
                URL, params={"programme_id": programme.id, "per_page": 3, "page": 2}, headers=admin
            )
        ).json()
        assert (page["total"], page["pages"], len(page["items"])) == (4, 2, 1)

    async def test_one_application_with_its_report(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme)
        response = await client.get(f"{URL}/{application.id}", headers=admin)
        assert response.status_code == 200
        body = response.json()
        assert body["eligibility"]["result"] == "eligible"
        assert body["email"] == "elodie@example.fr"
        assert body["status_url"].endswith(application.status_token)
        assert_problem(
            await client.get(f"{URL}/999999", headers=admin), 404, "application_not_found"
        )


class TestApprove:
    async def test_takes_a_cheque_from_the_envelope(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme)
        response = await client.post(f"{URL}/{application.id}/approve", headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "approved" and body["decided_by_id"] is not None
        await session.refresh(programme)
        assert programme.committed_cents == programme.cheque_amount_cents
        event = (
            await session.execute(
                select(AuditEvent).where(
                    col(AuditEvent.action) == "application.approved",
                    col(AuditEvent.entity_id) == str(application.id),
                )
            )
        ).scalar_one()
        assert (
            event.after is not None and event.after["amount_cents"] == programme.cheque_amount_cents
        )

    async def test_an_admin_may_approve_what_needs_review(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme, S.needs_review)
        response = await client.post(f"{URL}/{application.id}/approve", headers=admin)
        assert response.json()["status"] == "approved"

    @pytest.mark.parametrize("status", [S.ineligible, S.approved, S.rejected])
    async def test_the_state_forbids_it(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str], status: S
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme, status)
        await session.commit()  # keep the setup when the failed request rolls back
        response = await client.post(f"{URL}/{application.id}/approve", headers=admin)
        assert_problem(response, 409, "invalid_state")
        await session.refresh(programme)
        assert programme.committed_cents == 0

    async def test_an_empty_envelope_changes_nothing(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session, budget_cents=200_000)
        first = await create_application(session, programme)
        second = await create_application(session, programme)
        await session.commit()  # keep the setup when the failed request rolls back
        assert (await client.post(f"{URL}/{first.id}/approve", headers=admin)).status_code == 200
        response = await client.post(f"{URL}/{second.id}/approve", headers=admin)
        assert_problem(response, 409, "budget_exhausted")
        await session.refresh(second)
        assert second.status is S.eligible and second.decided_at is None


class TestBulkApprove:
    async def test_each_id_is_answered(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session, budget_cents=400_000)
        a, b, c = [await create_application(session, programme) for _ in range(3)]
        ineligible = await create_application(session, programme, S.ineligible)
        ids = [a.id, ineligible.id, b.id, 999999, c.id]
        response = await client.post(f"{URL}/approve", json={"ids": ids}, headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        answers = {
            r["id"]: (r["approved"], r["problem"] and r["problem"]["code"]) for r in body["results"]
        }
        assert answers == {
            a.id: (True, None),
            ineligible.id: (False, "invalid_state"),
            b.id: (True, None),
            999999: (False, "application_not_found"),
            c.id: (False, "budget_exhausted"),
        }
        assert (body["approved"], body["refused"]) == (2, 3)
        await session.refresh(c)
        assert c.status is S.eligible

    async def test_needs_ids(self, client: AsyncClient, admin: dict[str, str]) -> None:
        response = await client.post(f"{URL}/approve", json={"ids": []}, headers=admin)
        assert_problem(response, 422, "validation_error")


class TestReject:
    async def test_with_a_reason(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme, S.needs_review)
        reason = "Activité hors du champ du dispositif."
        response = await client.post(
            f"{URL}/{application.id}/reject", json={"reason": reason}, headers=admin
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["decision_reason"]) == (
            "rejected",
            reason,
        )
        again = await client.post(
            f"{URL}/{application.id}/reject", json={"reason": reason}, headers=admin
        )
        assert_problem(again, 409, "invalid_state")

    async def test_the_reason_is_required(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme)
        response = await client.post(f"{URL}/{application.id}/reject", json={}, headers=admin)
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["body", "reason"]


class TestRecheck:
    async def test_once_the_registry_is_back(
        self,
        app: FastAPI,
        client: AsyncClient,
        session: AsyncSession,
        admin: dict[str, str],
        fake_registry: FakeRegistry,
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(
            session, programme, S.needs_review, siret=SIRETS.marseille, department=None
        )
        app.state.registry = RegistryClient(fake_registry.url, timeout=0.5, deadline=1.0)
        response = await client.post(f"{URL}/{application.id}/recheck", headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "eligible" and body["department"] == "13"
        assert body["eligibility"]["registry"] == "found"

    async def test_not_once_decided(
        self, client: AsyncClient, session: AsyncSession, admin: dict[str, str]
    ) -> None:
        programme = await create_programme(session)
        application = await create_application(session, programme, S.approved)
        response = await client.post(f"{URL}/{application.id}/recheck", headers=admin)
        assert_problem(response, 409, "invalid_state")


class TestPurge:
    async def test_anonymises_old_refusals_only(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session)
        old = utcnow() - timedelta(days=31 * (settings.retention_months + 1))
        recent = utcnow() - timedelta(days=30)
        cases = {
            "old_rejected": await create_application(
                session, programme, S.rejected, updated_at=old
            ),
            "old_ineligible": await create_application(
                session, programme, S.ineligible, updated_at=old
            ),
            "recent_rejected": await create_application(
                session, programme, S.rejected, updated_at=recent
            ),
            "old_approved": await create_application(
                session, programme, S.approved, updated_at=old
            ),
        }
        assert await service.purge(session, settings) == 2
        for name, application in cases.items():
            await session.refresh(application)
            purged = name.startswith("old_") and name != "old_approved"
            assert (application.email is None) is purged, name
            assert (application.contact_name is None, application.phone is None) == (purged, purged)
            assert application.annual_turnover_eur == 480_000
        assert await service.purge(session, settings) == 0
        await session.commit()
        ids = [str(application.id) for application in cases.values()]
        query = select(col(AuditEvent.entity_id)).where(
            col(AuditEvent.action) == "application.purged",
            col(AuditEvent.entity_id).in_(ids),
        )
        purged_ids = set((await session.execute(query)).scalars())
        assert purged_ids == {str(cases["old_rejected"].id), str(cases["old_ineligible"].id)}
        assert (await audit.verify_chain(session))[1] is None


def test_months_before_clamps_to_the_end_of_the_month() -> None:
    from datetime import UTC, datetime

    moment = datetime(2027, 3, 31, 12, tzinfo=UTC)
    assert service.months_before(moment, 1) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert service.months_before(moment, 36) == datetime(2024, 3, 31, 12, tzinfo=UTC)
