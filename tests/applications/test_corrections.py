"""Review tools through the API: private notes, a correction asked of the applicant (its
e-mail, the approval refused while it waits) and the applicant's answer by its status
token, back into the review queue; audited, in order."""

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications.models import Notification
from tests.core.test_errors import assert_problem
from tests.fixtures.applications import application_body, create_application
from tests.fixtures.audit import actions_of, the_event
from tests.fixtures.factories import HeadersFor, create_programme
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.core.auth.models import Role
from voucher_service.programmes.models import Programme

URL = "/api/v1/applications"
S = ApplicationStatus
ASKED = "Merci de préciser l'adresse de l'établissement qui bénéficiera du chèque."
ANSWER = "L'atelier est au 12 rue de la République, 13002 Marseille."


@pytest.fixture
async def admin(headers_for: HeadersFor) -> dict[str, str]:
    return await headers_for(Role.admin)


@pytest.fixture
async def programme(session: AsyncSession) -> Programme:
    return await create_programme(session)


async def mails_to(session: AsyncSession, email: str, event: str) -> list[Notification]:
    query = select(Notification).where(
        col(Notification.recipient) == email, col(Notification.event) == event
    )
    return list((await session.execute(query)).scalars())


async def ask(client: AsyncClient, admin: dict[str, str], application: Application) -> Any:
    response = await client.post(
        f"{URL}/{application.id}/correction-request", json={"request": ASKED}, headers=admin
    )
    assert response.status_code == 200, response.text
    return response.json()


class TestNotes:
    async def test_a_note_is_listed_for_staff_and_never_shown_to_the_applicant(
        self,
        client: AsyncClient,
        session: AsyncSession,
        admin: dict[str, str],
        programme: Programme,
    ) -> None:
        application = await create_application(session, programme, S.needs_review)
        text = "Appelé le gérant : l'effectif est bien de 6 salariés."
        response = await client.post(
            f"{URL}/{application.id}/notes", json={"text": text}, headers=admin
        )
        assert response.status_code == 201, response.text
        [note] = response.json()["notes"]
        assert note["kind"] == "note" and note["text"] == text and "@" in note["author"]
        assert response.json()["exchanges"] == []
        detail = (await client.get(f"{URL}/{application.id}", headers=admin)).json()
        assert [n["text"] for n in detail["notes"]] == [text]
        status_page = await client.get(f"/status/{application.status_token}")
        assert status_page.status_code == 200 and "effectif est bien" not in status_page.text
        assert "Note interne" not in status_page.text
        assert "application.note_added" in await actions_of(session, "application", application.id)

    async def test_an_empty_note_or_an_unknown_application(
        self,
        client: AsyncClient,
        session: AsyncSession,
        admin: dict[str, str],
        programme: Programme,
    ) -> None:
        application = await create_application(session, programme, S.needs_review)
        empty = await client.post(
            f"{URL}/{application.id}/notes", json={"text": "  "}, headers=admin
        )
        assert empty.status_code == 422
        unknown = await client.post(f"{URL}/999999/notes", json={"text": "x"}, headers=admin)
        assert_problem(unknown, 404, "application_not_found")


class TestCorrection:
    async def test_asked_mailed_then_approval_refused_until_answered(
        self,
        client: AsyncClient,
        session: AsyncSession,
        admin: dict[str, str],
        programme: Programme,
    ) -> None:
        application = await create_application(session, programme, S.eligible)
        body = await ask(client, admin, application)
        assert body["status"] == "correction_requested"
        assert [(e["kind"], e["text"]) for e in body["exchanges"]] == [
            ("correction_request", ASKED)
        ]
        event = await the_event(
            session, "application", application.id, "application.correction_requested"
        )
        assert event.before is not None and event.before["status"] == "eligible"
        assert event.after is not None and event.after["status"] == "correction_requested"
        [mail] = await mails_to(session, "elodie@example.fr", "application_correction_requested")
        assert mail.data["request"] == ASKED
        assert mail.data["status_url"].endswith(f"/status/{application.status_token}")

        approve = await client.post(f"{URL}/{application.id}/approve", headers=admin)
        assert_problem(approve, 409, "correction_pending")
        bulk = await client.post(f"{URL}/approve", json={"ids": [application.id]}, headers=admin)
        [result] = bulk.json()["results"]
        assert not result["approved"] and result["problem"]["code"] == "correction_pending"
        recheck = await client.post(f"{URL}/{application.id}/recheck", headers=admin)
        assert_problem(recheck, 409, "correction_pending")
        again = await client.post(
            f"{URL}/{application.id}/correction-request", json={"request": ASKED}, headers=admin
        )
        assert_problem(again, 409, "correction_pending")
        stored = await session.get(Application, application.id, populate_existing=True)
        assert stored is not None and stored.status is S.correction_requested
        envelope = await session.get(Programme, programme.id, populate_existing=True)
        assert envelope is not None and envelope.committed_cents == 0

    async def test_answered_by_the_status_token_back_in_the_queue(
        self,
        client: AsyncClient,
        session: AsyncSession,
        admin: dict[str, str],
        programme: Programme,
    ) -> None:
        application = await create_application(session, programme, S.needs_review)
        await ask(client, admin, application)
        url = f"/api/v1/status/{application.status_token}/correction"
        assert (await client.post(url, json={"answer": ""})).status_code == 422
        answered = await client.post(url, json={"answer": ANSWER})
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "needs_review"
        assert_problem(
            await client.post(url, json={"answer": ANSWER}), 409, "no_correction_requested"
        )
        unknown = await client.post("/api/v1/status/nope/correction", json={"answer": ANSWER})
        assert_problem(unknown, 404, "application_not_found")

        detail = (await client.get(f"{URL}/{application.id}", headers=admin)).json()
        assert detail["status"] == "needs_review"
        exchanges = [(e["kind"], e["text"], e["author"]) for e in detail["exchanges"]]
        assert exchanges[1] == ("correction_answer", ANSWER, None)
        assert exchanges[0][:2] == ("correction_request", ASKED)
        queue = await client.get(URL, params={"status": "needs_review"}, headers=admin)
        assert application.id in [item["id"] for item in queue.json()["items"]]
        event = await the_event(
            session, "application", application.id, "application.correction_answered"
        )
        assert event.before is not None and event.before["status"] == "correction_requested"
        assert event.after is not None and event.after["status"] == "needs_review"
        approved = await client.post(f"{URL}/{application.id}/approve", headers=admin)
        assert approved.status_code == 200 and approved.json()["status"] == "approved"

    async def test_refusal_stays_possible_while_waiting(
        self,
        client: AsyncClient,
        session: AsyncSession,
        admin: dict[str, str],
        programme: Programme,
    ) -> None:
        application = await create_application(session, programme, S.needs_review)
        await ask(client, admin, application)
        rejected = await client.post(
            f"{URL}/{application.id}/reject", json={"reason": "Sans réponse."}, headers=admin
        )
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        url = f"/api/v1/status/{application.status_token}/correction"
        assert_problem(
            await client.post(url, json={"answer": ANSWER}), 409, "no_correction_requested"
        )

    @pytest.mark.parametrize("status", [S.approved, S.rejected, S.ineligible])
    async def test_only_while_review_is_open(
        self,
        client: AsyncClient,
        session: AsyncSession,
        admin: dict[str, str],
        programme: Programme,
        status: ApplicationStatus,
    ) -> None:
        application = await create_application(session, programme, status)
        refused = await client.post(
            f"{URL}/{application.id}/correction-request", json={"request": ASKED}, headers=admin
        )
        assert_problem(refused, 409, "invalid_state")
        mails = await mails_to(session, "elodie@example.fr", "application_correction_requested")
        assert [m for m in mails if application.status_token in m.data["status_url"]] == []

    async def test_the_company_keeps_its_place_while_waiting(
        self,
        client: AsyncClient,
        session: AsyncSession,
        admin: dict[str, str],
        programme: Programme,
    ) -> None:
        application = await create_application(session, programme, S.needs_review)
        await ask(client, admin, application)
        body = application_body(application.siret, programme_id=programme.id)
        assert_problem(await client.post(URL, json=body), 409, "duplicate_application")
