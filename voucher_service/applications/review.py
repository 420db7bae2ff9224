"""Review tools: staff's private notes on an application, and a correction (or a missing
piece) asked of the applicant, answered from the status page; the history of both.
Services flush, never commit."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.applications import messages, review_repository, service
from voucher_service.applications.errors import InvalidState, NoCorrectionRequested
from voucher_service.applications.links import status_url
from voucher_service.applications.models import (
    Application,
    ApplicationExchange,
    ApplicationNote,
    ApplicationStatus,
    ExchangeKind,
)
from voucher_service.core import audit, db
from voucher_service.core.config import Settings
from voucher_service.core.context import current_actor
from voucher_service.programmes import service as programmes_service

WAITING = ApplicationStatus.correction_requested
ALREADY = "Aucun complément n'est attendu pour cette demande : votre réponse a déjà été transmise."


def _staff_id() -> int:
    user_id = current_actor.get().user_id
    assert user_id is not None, "a review tool is used by a signed-in member of staff"
    return user_id


async def add_note(session: AsyncSession, application_id: int, text: str) -> ApplicationNote:
    """A private note: staff only ever see it; the audit keeps that it was written."""
    await service.get(session, application_id)
    note = ApplicationNote(application_id=application_id, author_id=_staff_id(), text=text)
    await review_repository.add(session, note)
    audit.record(
        session, "application.note_added", "application", application_id, after={"note": note.id}
    )
    return note


async def _exchange(
    session: AsyncSession, application: Application, kind: ExchangeKind, text: str
) -> ApplicationExchange:
    assert application.id is not None
    author = _staff_id() if kind is ExchangeKind.correction_request else None
    exchange = ApplicationExchange(
        application_id=application.id, kind=kind, text=text, author_id=author
    )
    await review_repository.add(session, exchange)
    return exchange


@db.atomic
async def request_correction(
    session: AsyncSession, application_id: int, request: str, settings: Settings
) -> Application:
    """Ask the applicant for what is missing: the application waits for the answer (it
    cannot be approved meanwhile) and the applicant is e-mailed the status link."""
    application = await service.get(session, application_id)
    before = service.audit_view(application)
    action = "mise en attente d'un complément"
    application = await service.move(session, application, action, {"status": WAITING})
    exchange = await _exchange(session, application, ExchangeKind.correction_request, request)
    after = {**service.audit_view(application), "exchange": exchange.id}
    action = "application.correction_requested"
    audit.record(session, action, "application", application_id, before=before, after=after)
    programme = await programmes_service.get(session, application.programme_id)
    url = status_url(settings, application)
    await messages.tell_correction_requested(session, application, programme, url, request)
    return application


@db.atomic
async def answer_correction(session: AsyncSession, token: str, answer: str) -> Application:
    """The applicant's answer, from its status link: the application is back in the
    review queue (`needs_review`) for staff to read it, check again and decide. The answer
    changes none of the declared figures, so eligibility stands until staff check again."""
    application = await service.by_status_token(session, token)
    if application.status is not WAITING:
        raise NoCorrectionRequested(ALREADY)
    before = service.audit_view(application)
    values = {"status": ApplicationStatus.needs_review}
    try:
        application = await service.move(session, application, "complétée", values, (WAITING,))
    except InvalidState:  # answered meanwhile, from another tab
        raise NoCorrectionRequested(ALREADY) from None
    exchange = await _exchange(session, application, ExchangeKind.correction_answer, answer)
    after = {**service.audit_view(application), "exchange": exchange.id}
    action = "application.correction_answered"
    audit.record(session, action, "application", application.id, before=before, after=after)
    return application


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of an application's history."""

    kind: str  # submitted, correction_request, correction_answer, note, approved, rejected
    at: datetime
    text: str | None = None
    author: str | None = None  # the staff member's e-mail, for staff only


async def notes(session: AsyncSession, application_id: int) -> list[Entry]:
    rows = await review_repository.notes_of(session, application_id)
    return [Entry("note", note.created_at, note.text, email) for note, email in rows]


async def exchanges(session: AsyncSession, application_id: int) -> list[Entry]:
    rows = await review_repository.exchanges_of(session, application_id)
    return [Entry(row.kind.value, row.created_at, row.text, email) for row, email in rows]


async def history(session: AsyncSession, application: Application, *, staff: bool) -> list[Entry]:
    """Submission, requests, answers and the decision, oldest first; staff also see their
    notes and who wrote what, the applicant never."""
    assert application.id is not None
    entries = [Entry("submitted", application.created_at)]
    entries += await exchanges(session, application.id)
    if staff:
        entries += await notes(session, application.id)
    if application.decided_at is not None:
        text = application.decision_reason
        entries.append(Entry(application.status.value, application.decided_at, text))
    entries.sort(key=lambda entry: entry.at)
    if not staff:
        entries = [Entry(e.kind, e.at, e.text) for e in entries]
    return entries


async def answered(session: AsyncSession, application_ids: Sequence[int]) -> set[int]:
    """Those of the applications whose applicant answered the latest request: the queue
    points them out to staff."""
    latest = await review_repository.latest_exchanges(session, application_ids)
    return {i for i, row in latest.items() if row.kind is ExchangeKind.correction_answer}


async def pending_request(session: AsyncSession, application: Application) -> Entry | None:
    """What the applicant is asked, while the application waits for the answer."""
    if application.status is not WAITING:
        return None
    assert application.id is not None
    asked = [e for e in await exchanges(session, application.id) if e.kind == "correction_request"]
    return asked[-1] if asked else None
