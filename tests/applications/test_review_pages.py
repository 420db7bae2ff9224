"""The review tools on the pages: notes and correction requests on the staff's page of an
application, the answer from the business's status page, the resubmitted form pointing
to it; errors beside the field, the typed text kept, never a note shown to the business."""

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.applications.test_pages import HTML, as_form, csrf_of, log_in
from tests.fixtures.applications import application_body, create_application
from tests.fixtures.audit import actions_of
from tests.fixtures.factories import close_committed_programmes, create_programme
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.programmes.models import Programme

S = ApplicationStatus
NOTE = "Vu avec la CCI : activité réelle confirmée."
ASKED = "Merci d'indiquer l'adresse exacte de l'établissement."
ANSWER = "12 rue de la République, 13002 Marseille."


@pytest.fixture
async def programme(session: AsyncSession) -> Programme:
    await close_committed_programmes(session)
    return await create_programme(session)


async def staff_page(client: AsyncClient, application: Application) -> tuple[str, str]:
    """The staff's page of the application, and its CSRF token."""
    page = await client.get(f"/admin/applications/{application.id}")
    assert page.status_code == 200
    return page.text, csrf_of(page.text)


class TestStaffPage:
    async def test_a_note_then_a_correction_request(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, programme: Programme
    ) -> None:
        application = await create_application(session, programme, S.needs_review)
        await log_in(client, session, settings, Role.admin)
        url = f"/admin/applications/{application.id}"
        _, token = await staff_page(client, application)
        empty = await client.post(f"{url}/notes", data={"csrf_token": token, "note": " "})
        assert empty.status_code == 422 and 'id="note-error"' in empty.text
        assert 'aria-invalid="true"' in empty.text
        noted = await client.post(f"{url}/notes", data={"csrf_token": token, "note": NOTE})
        assert noted.status_code == 303 and noted.headers["location"].endswith("done=note")
        page, token = await staff_page(client, application)
        assert "Note interne" in page and "activité réelle confirmée" in page

        short = await client.post(
            f"{url}/correction-request", data={"csrf_token": token, "request": "ab"}
        )
        assert short.status_code == 422 and 'id="request-error"' in short.text
        assert ">ab</textarea>" in short.text  # the typed text is kept
        asked = await client.post(
            f"{url}/correction-request", data={"csrf_token": token, "request": ASKED}
        )
        assert asked.status_code == 303
        page, token = await staff_page(client, application)
        assert "En attente de la réponse du demandeur" in page and "Approuver (" not in page
        assert "Refuser la demande" in page  # a refusal stays possible
        refused = await client.post(f"{url}/approve", data={"csrf_token": token})
        assert refused.status_code == 409 and "attend la réponse du demandeur" in refused.text
        assert "correction_pending" not in refused.text
        actions = await actions_of(session, "application", application.id)
        assert actions[-2:] == ["application.note_added", "application.correction_requested"]

    async def test_a_form_without_csrf_is_refused(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, programme: Programme
    ) -> None:
        application = await create_application(session, programme, S.needs_review)
        await log_in(client, session, settings, Role.admin)
        url = f"/admin/applications/{application.id}"
        for action, field in (("notes", "note"), ("correction-request", "request")):
            response = await client.post(f"{url}/{action}", data={field: NOTE}, headers=HTML)
            assert response.status_code == 403


class TestBusinessPage:
    async def asked(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, programme: Programme
    ) -> Application:
        """An application whose staff noted something, then asked for a correction."""
        application = await create_application(session, programme, S.eligible)
        await log_in(client, session, settings, Role.admin)
        url = f"/admin/applications/{application.id}"
        _, token = await staff_page(client, application)
        await client.post(f"{url}/notes", data={"csrf_token": token, "note": NOTE})
        await client.post(f"{url}/correction-request", data={"csrf_token": token, "request": ASKED})
        client.cookies.delete("mcd_session")
        return application

    async def test_answered_from_the_status_page(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, programme: Programme
    ) -> None:
        application = await self.asked(client, session, settings, programme)
        link = f"/status/{application.status_token}"
        page = await client.get(link)
        assert ASKED.replace("'", "&#39;") in page.text and "activité réelle" not in page.text
        token = csrf_of(page.text)
        refused = await client.post(f"{link}/correction", data={"answer": ANSWER}, headers=HTML)
        assert refused.status_code == 403
        empty = await client.post(f"{link}/correction", data={"csrf_token": token, "answer": ""})
        assert empty.status_code == 422 and 'id="answer-error"' in empty.text
        sent = await client.post(f"{link}/correction", data={"csrf_token": token, "answer": ANSWER})
        assert sent.status_code == 303
        after = await client.get(sent.headers["location"])
        assert "Votre réponse a été transmise" in after.text and "Votre réponse" in after.text
        assert "13002 Marseille" in after.text and "activité réelle" not in after.text
        assert 'action="' + link + '/correction"' not in after.text
        again = await client.post(
            f"{link}/correction", data={"csrf_token": token, "answer": ANSWER}
        )
        assert again.status_code == 409 and "déjà été transmise" in again.text
        stored = await session.get(Application, application.id, populate_existing=True)
        assert stored is not None and stored.status is S.needs_review

    async def test_the_answer_is_flagged_in_the_queue(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, programme: Programme
    ) -> None:
        application = await self.asked(client, session, settings, programme)
        link = f"/status/{application.status_token}"
        token = csrf_of((await client.get(link)).text)
        await client.post(f"{link}/correction", data={"csrf_token": token, "answer": ANSWER})
        await log_in(client, session, settings, Role.admin)
        queue = await client.get("/admin", params={"status": "needs_review"})
        row = queue.text.split(f'href="/admin/applications/{application.id}"', 1)[1].split("</tr>")[
            0
        ]
        assert "Réponse du demandeur reçue" in row
        page, _ = await staff_page(client, application)
        history = page.split("Historique des échanges")[1]
        assert history.index("Note interne") < history.index("Complément demandé")
        assert history.index("Complément demandé") < history.index("Réponse du demandeur")

    async def test_the_resubmitted_form_offers_the_answer(
        self, client: AsyncClient, session: AsyncSession, settings: Settings, programme: Programme
    ) -> None:
        token = csrf_of((await client.get("/apply")).text)
        form = {**as_form(application_body()), "csrf_token": token}
        first = await client.post("/apply", data=form)
        assert first.status_code == 303
        link = first.headers["location"]
        application = await session.get(Application, int(await _id_of(client, link)))
        assert application is not None
        await log_in(client, session, settings, Role.admin)
        _, csrf = await staff_page(client, application)
        url = f"/admin/applications/{application.id}/correction-request"
        await client.post(url, data={"csrf_token": csrf, "request": ASKED})
        client.cookies.delete("mcd_session")
        again = await client.post("/apply", data=form)
        assert again.status_code == 409 and "Répondre au complément demandé" in again.text
        assert f'href="{link}#complement"' in again.text


async def _id_of(client: AsyncClient, link: str) -> str:
    page = (await client.get(link)).text
    return page.split("Suivi de votre demande n°")[1].split("<")[0]
