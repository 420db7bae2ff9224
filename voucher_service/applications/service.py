"""Applications: submission with its eligibility report, review within the budget
envelope, re-checks and the retention purge. Services flush, never commit."""

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.applications import messages, repository
from voucher_service.applications.eligibility import Declaration, Facts, Report, evaluate
from voucher_service.applications.errors import (
    ApplicationNotFound,
    CorrectionPending,
    DuplicateApplication,
    InvalidState,
)
from voucher_service.applications.links import status_url
from voucher_service.applications.models import (
    PENDING_STATUSES,
    REFUSABLE_STATUSES,
    STATUS_LABELS,
    Application,
    ApplicationStatus,
)
from voucher_service.applications.registry import RegistryAnswer, RegistryClient
from voucher_service.applications.schemas import ApplicationCreate
from voucher_service.core import audit, db
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.context import current_actor
from voucher_service.core.errors import ServiceError
from voucher_service.programmes import service as programmes_service
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import labels as vouchers_labels
from voucher_service.vouchers import service as vouchers_service
from voucher_service.vouchers.models import Voucher, VoucherStatus

PERSONAL_FIELDS = ("contact_name", "email", "phone")
VOID = (VoucherStatus.cancelled, VoucherStatus.expired)  # no longer sent to the business


async def get(session: AsyncSession, application_id: int) -> Application:
    application = await repository.get(session, application_id)
    if application is None:
        raise ApplicationNotFound(f"Aucune demande n°{application_id}.")
    return application


async def _programme_for(session: AsyncSession, programme_id: int | None, today: date) -> Programme:
    if programme_id is None:
        return await programmes_service.open_on(session, today)
    return await programmes_service.get(session, programme_id)


def _duplicate(settings: Settings, existing: Application, email: str) -> DuplicateApplication:
    """The existing status link is given back only to whoever applied with the same e-mail."""
    if existing.email is not None and existing.email == email:
        return DuplicateApplication(
            "Votre demande a déjà été enregistrée ; voici son suivi.",
            existing=existing,
            status_url=status_url(settings, existing),
        )
    return DuplicateApplication(
        "Une demande existe déjà pour cette entreprise ; son lien de suivi a été communiqué "
        "à l'adresse e-mail donnée lors de cette demande."
    )


async def _report(
    session: AsyncSession,
    programme: Programme,
    declaration: Declaration,
    answer: RegistryAnswer,
    today: date,
    application_id: int | None = None,
) -> Report:
    assert programme.id is not None
    already = await repository.has_approved(
        session, programme.id, declaration.siret[:9], other_than=application_id
    )
    facts = Facts(programme, today, declaration, answer, already_beneficiary=already)
    return evaluate(facts, utcnow())


def _department(answer: RegistryAnswer) -> str | None:
    place = answer.company.establishment if answer.company else None
    return place.department if place else None


def _declaration(body: ApplicationCreate | Application) -> Declaration:
    return Declaration(
        siret=body.siret,
        theme=body.theme,
        headcount=body.headcount,
        annual_turnover_eur=body.annual_turnover_eur,
        de_minimis_aid_eur=body.de_minimis_aid_eur,
    )


def _new_application(
    body: ApplicationCreate, programme: Programme, report: Report, answer: RegistryAnswer
) -> Application:
    assert programme.id is not None
    return Application(
        programme_id=programme.id,
        rules_version=report.rules_version,
        status=ApplicationStatus(report.result.value),
        status_token=secrets.token_urlsafe(32),
        siret=body.siret,
        siren=body.siret[:9],
        company_name=body.company_name,
        theme=body.theme,
        department=_department(answer),
        headcount=body.headcount,
        annual_turnover_eur=body.annual_turnover_eur,
        de_minimis_aid_eur=body.de_minimis_aid_eur,
        de_minimis_attested=body.de_minimis_attestation,
        contact_name=body.contact_name,
        email=body.email,
        phone=body.phone,
        consented_at=utcnow(),
        eligibility=report.as_json(),
        checked_at=report.checked_at,
    )


def audit_view(application: Application) -> dict[str, Any]:
    """What the audit trail keeps of an application: no personal data, so that the purge
    never has to touch the trail."""
    return {
        "status": application.status.value,
        "programme_id": application.programme_id,
        "siret": application.siret,
        "rules_version": application.rules_version,
        "result": application.eligibility.get("result"),
    }


async def submit(
    session: AsyncSession,
    body: ApplicationCreate,
    registry: RegistryClient,
    settings: Settings,
    *,
    today: date | None = None,
) -> Application:
    """Check eligibility and store the application, whatever the registry says or does.

    The registry is asked first, before the transaction takes any lock."""
    answer = await registry.lookup(body.siret)
    today = today or paris_today()
    programme = await _programme_for(session, body.programme_id, today)
    assert programme.id is not None
    existing = await repository.live_for(session, programme.id, body.siret[:9])
    if existing is not None:
        raise _duplicate(settings, existing, body.email)
    report = await _report(session, programme, _declaration(body), answer, today)
    application = _new_application(body, programme, report, answer)
    try:
        async with session.begin_nested():
            session.add(application)
            await session.flush()
    except IntegrityError:  # the same company applied at the same moment
        existing = await repository.live_for(session, programme.id, body.siret[:9])
        raise (
            _duplicate(settings, existing, body.email) if existing else DuplicateApplication()
        ) from None
    audit.record(
        session,
        "application.submitted",
        "application",
        application.id,
        after=audit_view(application),
    )
    await messages.tell_submitted(
        session, application, programme, settings, status_url(settings, application)
    )
    return application


def _refuse(application: Application, action: str) -> InvalidState:
    """Why the application cannot be changed so: waiting for the applicant's correction
    (its own code, for clients to tell it apart), or in a state that never allows it."""
    if application.status is ApplicationStatus.correction_requested:
        return CorrectionPending(
            f"La demande n°{application.id} attend la réponse du demandeur au complément "
            f"demandé : elle ne peut pas être {action} avant."
        )
    label = STATUS_LABELS[application.status]
    return InvalidState(
        f"La demande n°{application.id} est {label} : elle ne peut pas être {action}."
    )


async def move(
    session: AsyncSession,
    application: Application,
    action: str,
    values: dict[str, Any],
    allowed: tuple[ApplicationStatus, ...] = PENDING_STATUSES,
) -> Application:
    """Change an application in one of the allowed states (pending by default), or refuse
    (InvalidState, CorrectionPending) if it is not (any longer): the database decides."""
    if application.status not in allowed:
        raise _refuse(application, action)
    assert application.id is not None
    moved = await repository.update_if_status(
        session, application.id, application.status, {**values, "updated_at": utcnow()}
    )
    if moved is None:
        raise _refuse(await get(session, application.id), action)
    return moved


@db.atomic
async def approve(session: AsyncSession, application_id: int, settings: Settings) -> Application:
    """Approve within the envelope: the state is checked by a conditional update and the
    cheque's amount taken by another, so that concurrent approvals never overspend. All or
    nothing (atomic), whatever the caller does after a refusal."""
    application = await get(session, application_id)
    await programmes_service.lock(session, [application.programme_id])
    before = audit_view(application)
    decision = {"decided_at": utcnow(), "decided_by_id": current_actor.get().user_id}
    status = {"status": ApplicationStatus.approved, **decision}
    application = await move(session, application, "approuvée", status)
    programme = await programmes_service.get(session, application.programme_id)
    amount = programme.cheque_amount_cents
    await programmes_service.commit_budget(session, application.programme_id, amount)
    issued = await vouchers_service.issue_voucher(
        session,
        programme,
        application_id=application_id,
        company_name=application.company_name,
        siret=application.siret,
        beneficiary_email=application.email or "",
        settings=settings,
    )
    after = {**audit_view(application), "amount_cents": amount, "voucher": issued.code}
    await messages.tell_approved(
        session, application, programme, issued, settings, status_url(settings, application)
    )
    audit.record(
        session,
        "application.approved",
        "application",
        application_id,
        before=before,
        after=after,
    )
    return application


@db.atomic
async def reject(
    session: AsyncSession, application_id: int, reason: str, settings: Settings
) -> Application:
    """Refuse a pending application, with the reason the applicant will read."""
    application = await get(session, application_id)
    before = audit_view(application)
    values = {
        "status": ApplicationStatus.rejected,
        "decision_reason": reason,
        "decided_at": utcnow(),
        "decided_by_id": current_actor.get().user_id,
    }
    application = await move(session, application, "refusée", values, REFUSABLE_STATUSES)
    audit.record(
        session,
        "application.rejected",
        "application",
        application_id,
        before=before,
        after={**audit_view(application), "reason": reason},
    )
    programme = await programmes_service.get(session, application.programme_id)
    await messages.tell_rejected(
        session, application, programme, settings, status_url(settings, application), reason
    )
    return application


@dataclass(frozen=True)
class ApprovalAttempt:
    application_id: int
    application: Application | None
    error: ServiceError | None


async def approve_many(
    session: AsyncSession, application_ids: list[int], settings: Settings
) -> list[ApprovalAttempt]:
    """Approve each in turn, answered in the order asked; one refusal does not undo the
    others. Their programmes are locked first, then the applications in id order, so
    that overlapping bulk approvals always lock rows in the same order."""
    ids = sorted(set(application_ids))
    await programmes_service.lock(session, await repository.programmes_of(session, ids))
    attempts = {}
    for application_id in ids:
        try:
            approved = await approve(session, application_id, settings)
        except ServiceError as error:
            attempts[application_id] = ApprovalAttempt(application_id, None, error)
        else:
            attempts[application_id] = ApprovalAttempt(application_id, approved, None)
    return [attempts[application_id] for application_id in dict.fromkeys(application_ids)]


@db.atomic
async def recheck(
    session: AsyncSession,
    application_id: int,
    registry: RegistryClient,
    *,
    today: date | None = None,
) -> Application:
    """Decide a pending application again, on today's registry and the current rules."""
    application = await get(session, application_id)
    if application.status not in PENDING_STATUSES:
        raise _refuse(application, "vérifiée à nouveau")
    answer = await registry.lookup(application.siret)
    programme = await programmes_service.get(session, application.programme_id)
    declaration = _declaration(application)
    report = await _report(
        session, programme, declaration, answer, today or paris_today(), application_id
    )
    before = audit_view(application)
    values = {
        "status": ApplicationStatus(report.result.value),
        "eligibility": report.as_json(),
        "rules_version": report.rules_version,
        "checked_at": report.checked_at,
        "department": _department(answer) or application.department,
    }
    application = await move(session, application, "vérifiée à nouveau", values)
    audit.record(
        session,
        "application.rechecked",
        "application",
        application_id,
        before=before,
        after=audit_view(application),
    )
    return application


async def waiting_for_review(session: AsyncSession) -> list[int]:
    """Applications that could not be decided automatically (for a re-check)."""
    return await repository.ids_in(session, [ApplicationStatus.needs_review])


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time, that many calendar months earlier (clamped to month end)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


async def purge(session: AsyncSession, settings: Settings, *, now: datetime | None = None) -> int:
    """Anonymise the contact details of refused applications older than the retention
    period; the figures stay, and each purge is a new audit event."""
    now = now or utcnow()
    cutoff = months_before(now, settings.retention_months)
    applications = await repository.purgeable(session, cutoff)
    for application in applications:
        for name in PERSONAL_FIELDS:
            setattr(application, name, None)
        application.purged_at = now
        await session.flush()
        audit.record(
            session,
            "application.purged",
            "application",
            application.id,
            after={"fields": list(PERSONAL_FIELDS), "retention_months": settings.retention_months},
        )
    return len(applications)


async def by_status_token(session: AsyncSession, token: str) -> Application:
    """The application a status link points to; a too long or unknown token is a 404."""
    application = await repository.by_token(session, token) if len(token) <= 64 else None
    if application is None:
        raise ApplicationNotFound("Ce lien de suivi ne correspond à aucune demande.")
    return application


async def has_applied(session: AsyncSession, programme_id: int, siret: str) -> bool:
    """Whether this establishment ever applied to the programme, whatever became of it."""
    return await repository.has_applied(session, programme_id, siret)


async def departments_and_themes(session: AsyncSession) -> tuple[list[str], list[str]]:
    """The values the review queue can be filtered on."""
    return await repository.departments_and_themes(session)


async def queue(
    session: AsyncSession, filters: dict[str, Any], page: int, per_page: int
) -> tuple[list[Application], int]:
    return await repository.queue(session, filters, page, per_page)


def why_not_resent(cheque: Voucher) -> InvalidState | None:
    """A cancelled or expired cheque is no longer sent to the business (None: it may be)."""
    if (state := cheque.status_on(paris_today())) in VOID:
        label = vouchers_labels.STATUS[state].lower()
        return InvalidState(f"Le chèque {cheque.code} est {label} : il n'est plus envoyé.")
    return None


async def resend_cheque(session: AsyncSession, application_id: int, settings: Settings) -> None:
    """Send the approval e-mail with the cheque PDF again (e.g. the first one was lost)."""
    application = await get(session, application_id)
    cheque = await vouchers_service.for_application(session, application_id)
    if cheque is None or not application.email:
        raise _refuse(application, "renvoyée avec son chèque")
    if (refusal := why_not_resent(cheque)) is not None:
        raise refusal
    programme = await programmes_service.get(session, application.programme_id)
    issued = vouchers_service.IssuedVoucher(cheque, cheque.token, cheque.code)
    await messages.tell_approved(
        session, application, programme, issued, settings, status_url(settings, application)
    )
    audit.record(
        session,
        "application.cheque_resent",
        "application",
        application_id,
        after={"voucher": cheque.code},
    )
