from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request

from voucher_service.applications import links, review, service, status_link
from voucher_service.applications.dependencies import Registry, ReviewerUser
from voucher_service.applications.errors import (
    ApplicationNotFound,
    CorrectionPending,
    DuplicateApplication,
    InvalidState,
    TooManyStatusLinkRequests,
)
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.applications.review_schemas import CorrectionRequestCreate, NoteCreate
from voucher_service.applications.schemas import (
    ApplicationCreate,
    ApplicationPage,
    ApplicationPublic,
    ApplicationReceipt,
    ApplicationSummary,
    ApprovalOutcome,
    BulkApproval,
    BulkApprovalResult,
    ChequeIssued,
    Rejection,
    StatusLinkAnswer,
    StatusLinkAsk,
)
from voucher_service.core.auth.dependencies import AdminUser, AppSettings, client_address
from voucher_service.core.config import Settings
from voucher_service.core.db import AppTransaction, DbSession, EntityId
from voucher_service.core.errors import Forbidden, Problem, Unauthorized, problem_responses
from voucher_service.core.pagination import IdFilter, PageNumber, PerPage
from voucher_service.programmes.errors import BudgetExhausted, NoOpenProgramme, ProgrammeNotFound
from voucher_service.vouchers import service as vouchers_service

router = APIRouter(prefix="/api/v1/applications", tags=["applications"])
AUTH = (Unauthorized, Forbidden)


async def public(
    session: DbSession, application: Application, settings: Settings
) -> ApplicationPublic:
    """The application with its status link, and its cheque once issued."""
    assert application.id is not None
    cheque = await vouchers_service.for_application(session, application.id)
    return ApplicationPublic.model_validate(
        {
            **application.model_dump(),
            "status_url": links.status_url(settings, application),
            "cheque": ChequeIssued.model_validate(cheque) if cheque else None,
            "notes": await review.notes(session, application.id),
            "exchanges": await review.exchanges(session, application.id),
        }
    )


@router.post(
    "",
    status_code=201,
    summary="Apply for a cheque; eligibility is checked at once",
    responses=problem_responses(DuplicateApplication, NoOpenProgramme, ProgrammeNotFound),
)
async def submit(
    body: ApplicationCreate, session: DbSession, settings: AppSettings, registry: Registry
) -> ApplicationReceipt:
    application = await service.submit(session, body, registry, settings)
    assert application.id is not None
    return ApplicationReceipt(
        id=application.id,
        status=application.status,
        status_url=links.status_url(settings, application),
        eligibility=application.eligibility,
    )


@router.post(
    "/status-link",
    status_code=202,
    summary="E-mail the status link again to whoever applied with this SIRET and e-mail",
    description="The answer is the same whether or not an application matches.",
    responses=problem_responses(TooManyStatusLinkRequests),
)
async def request_status_link(
    body: StatusLinkAsk,
    session: DbSession,
    settings: AppSettings,
    transaction: AppTransaction,
    background: BackgroundTasks,
    request: Request,
) -> StatusLinkAnswer:
    asked = await status_link.request_link(session, settings, body, client_address(request))
    background.add_task(status_link.mail_link_after_answer, transaction, settings, asked)
    return StatusLinkAnswer(detail=status_link.ANSWER)


@router.get("", summary="The review queue, oldest first", responses=problem_responses(*AUTH))
async def list_applications(
    session: DbSession,
    admin: AdminUser,
    status: ApplicationStatus | None = None,
    theme: Annotated[str | None, Query(max_length=40)] = None,
    department: Annotated[str | None, Query(max_length=3)] = None,
    programme_id: IdFilter = None,
    page: PageNumber = 1,
    per_page: PerPage = 20,
) -> ApplicationPage:
    filters = {
        "status": status,
        "theme": theme,
        "department": department,
        "programme_id": programme_id,
    }
    items, total = await service.queue(session, filters, page, per_page)
    return ApplicationPage(
        items=[ApplicationSummary.model_validate(a) for a in items],
        total=total,
        page=page,
        per_page=per_page,
        pages=(total + per_page - 1) // per_page,
    )


@router.post(
    "/approve",
    summary="Approve several applications; each is answered on its own",
    responses=problem_responses(*AUTH),
)
async def approve_many(
    body: BulkApproval, session: DbSession, settings: AppSettings, admin: AdminUser
) -> BulkApprovalResult:
    attempts = await service.approve_many(session, body.ids, settings)
    results = [
        ApprovalOutcome(
            id=attempt.application_id,
            approved=attempt.error is None,
            status=attempt.application.status if attempt.application else None,
            problem=Problem.model_validate(attempt.error.to_problem()) if attempt.error else None,
        )
        for attempt in attempts
    ]
    approved = sum(result.approved for result in results)
    return BulkApprovalResult(approved=approved, refused=len(results) - approved, results=results)


@router.get(
    "/{application_id:int}",
    summary="One application with its eligibility report",
    responses=problem_responses(*AUTH, ApplicationNotFound),
)
async def get_application(
    application_id: EntityId, session: DbSession, settings: AppSettings, admin: AdminUser
) -> ApplicationPublic:
    return await public(session, await service.get(session, application_id), settings)


@router.post(
    "/{application_id:int}/approve",
    summary="Approve within the budget envelope",
    responses=problem_responses(
        *AUTH, ApplicationNotFound, InvalidState, CorrectionPending, BudgetExhausted
    ),
)
async def approve(
    application_id: EntityId, session: DbSession, settings: AppSettings, admin: AdminUser
) -> ApplicationPublic:
    return await public(session, await service.approve(session, application_id, settings), settings)


@router.post(
    "/{application_id:int}/reject",
    summary="Reject with a reason told to the applicant",
    responses=problem_responses(*AUTH, ApplicationNotFound, InvalidState),
)
async def reject(
    application_id: EntityId,
    body: Rejection,
    session: DbSession,
    settings: AppSettings,
    admin: AdminUser,
) -> ApplicationPublic:
    return await public(
        session, await service.reject(session, application_id, body.reason, settings), settings
    )


@router.post(
    "/{application_id:int}/recheck",
    summary="Check eligibility again (registry and current rules)",
    responses=problem_responses(*AUTH, ApplicationNotFound, InvalidState),
)
async def recheck(
    application_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    registry: Registry,
    admin: AdminUser,
) -> ApplicationPublic:
    return await public(session, await service.recheck(session, application_id, registry), settings)


@router.post(
    "/{application_id:int}/resend-cheque",
    status_code=202,
    summary="E-mail the approval with the cheque PDF again",
    responses=problem_responses(*AUTH, ApplicationNotFound, InvalidState),
)
async def resend_cheque(
    application_id: EntityId, session: DbSession, settings: AppSettings, admin: AdminUser
) -> ApplicationPublic:
    await service.resend_cheque(session, application_id, settings)
    return await public(session, await service.get(session, application_id), settings)


@router.post(
    "/{application_id:int}/notes",
    status_code=201,
    summary="Add a private note for staff; the applicant never sees it",
    responses=problem_responses(*AUTH, ApplicationNotFound),
)
async def add_note(
    application_id: EntityId,
    body: NoteCreate,
    session: DbSession,
    settings: AppSettings,
    staff: ReviewerUser,
) -> ApplicationPublic:
    await review.add_note(session, application_id, body.text)
    return await public(session, await service.get(session, application_id), settings)


@router.post(
    "/{application_id:int}/correction-request",
    summary="Ask the applicant for a correction or a missing piece (e-mailed with the link)",
    description="Only while the application is pending (eligible or needs_review); it then "
    "waits in correction_requested, and cannot be approved, until the applicant answers.",
    responses=problem_responses(*AUTH, ApplicationNotFound, InvalidState, CorrectionPending),
)
async def request_correction(
    application_id: EntityId,
    body: CorrectionRequestCreate,
    session: DbSession,
    settings: AppSettings,
    staff: ReviewerUser,
) -> ApplicationPublic:
    application = await review.request_correction(session, application_id, body.request, settings)
    return await public(session, application, settings)
