"""The application form, the applicant's status page and the administrators' review queue."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from voucher_service.applications import review, service
from voucher_service.applications.dependencies import Registry, ReviewerPage
from voucher_service.applications.eligibility import RULE_LABELS, theme_label
from voucher_service.applications.errors import DuplicateApplication
from voucher_service.applications.models import STATUS_LABELS, Application, ApplicationStatus
from voucher_service.applications.review_schemas import TEXT_MAX
from voucher_service.applications.schemas import ApplicationCreate, french_errors
from voucher_service.core.auth.dependencies import AppSettings, require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today
from voucher_service.core.db import DbSession
from voucher_service.core.errors import ServiceError
from voucher_service.programmes import service as programmes_service
from voucher_service.programmes.errors import NoOpenProgramme
from voucher_service.programmes.labels import department_label
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import service as vouchers_service
from voucher_service.web.rendering import check_csrf, render, templates

router = APIRouter(include_in_schema=False)
PageAdmin = Annotated[User, Depends(require_page_roles(Role.admin))]

FORM_FIELDS = (
    "siret",
    "company_name",
    "contact_name",
    "email",
    "phone",
    "theme",
    "headcount",
    "annual_turnover_eur",
    "de_minimis_aid_eur",
)
CHECKBOXES = ("de_minimis_attestation", "consent")
OUTCOME_LABELS = {"pass": "Conforme", "fail": "Non conforme", "unknown": "À vérifier"}

templates.env.filters.update(theme_label=theme_label, department_label=department_label)
templates.env.globals.update(
    RULE_LABELS=RULE_LABELS, STATUS_LABELS=STATUS_LABELS, OUTCOME_LABELS=OUTCOME_LABELS
)


async def _open_programme(session: DbSession) -> Programme | None:
    try:
        return await programmes_service.open_on(session, paris_today())
    except NoOpenProgramme:
        return None


def _correction_url(existing: Application | None) -> str | None:
    """Where the applicant answers the correction asked, if one waits for an answer."""
    if existing is None or existing.status is not ApplicationStatus.correction_requested:
        return None
    return f"/status/{existing.status_token}#complement"


def _form(
    request: Request,
    programme: Programme | None,
    settings: AppSettings,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    problem: str | None = None,
    duplicate: DuplicateApplication | None = None,
) -> Response:
    existing = duplicate.existing if duplicate else None
    return render(
        request,
        "apply.html",
        status_code=status_code,
        programme=programme,
        retention_months=settings.retention_months,
        values=values,
        errors=errors,
        problem=problem,
        duplicate=duplicate,
        existing_url=f"/status/{existing.status_token}" if existing else None,
        correction_url=_correction_url(existing),
    )


@router.get("/apply", response_class=HTMLResponse)
async def apply_form(request: Request, session: DbSession, settings: AppSettings) -> Response:
    return _form(request, await _open_programme(session), settings, {}, {})


async def _submitted_values(request: Request) -> tuple[dict[str, Any], str]:
    form = await request.form()
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in FORM_FIELDS}
    values.update({name: form.get(name) == "on" for name in CHECKBOXES})
    return values, str(form.get("csrf_token", ""))


@router.post("/apply", response_class=HTMLResponse)
async def apply(
    request: Request, session: DbSession, settings: AppSettings, registry: Registry
) -> Response:
    values, token = await _submitted_values(request)
    check_csrf(request, token)
    try:
        body = ApplicationCreate.model_validate(values)
    except ValidationError as error:
        errors = french_errors(error.errors())
        programme = await _open_programme(session)
        return _form(request, programme, settings, values, errors, status_code=422)
    try:
        application = await service.submit(session, body, registry, settings)
    except DuplicateApplication as error:  # kept as typed, not silently dropped
        programme = await _open_programme(session)
        return _form(request, programme, settings, values, {}, error.status, duplicate=error)
    except NoOpenProgramme as error:
        return _form(request, None, settings, values, {}, error.status, error.title)
    return RedirectResponse(f"/status/{application.status_token}", status_code=303)


@router.get("/admin", response_class=HTMLResponse)
async def review_queue(
    request: Request,
    session: DbSession,
    admin: PageAdmin,
    status: Annotated[ApplicationStatus | None, Query()] = None,
    theme: Annotated[str | None, Query(max_length=40)] = None,
    department: Annotated[str | None, Query(max_length=3)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    filters = {"status": status, "theme": theme or None, "department": department or None}
    items, total = await service.queue(session, filters, page, 50)
    departments, themes = await service.departments_and_themes(session)
    answered = await review.answered(session, [a.id for a in items if a.id is not None])
    return render(
        request,
        "admin.html",
        applications=items,
        total=total,
        page=page,
        pages=(total + 49) // 50,
        filters=filters,
        departments=departments,
        themes=themes,
        answered=answered,
        programmes=await programmes_service.list_all(session),
        approved=request.query_params.get("approved"),
        refused=request.query_params.get("refused"),
    )


@router.post("/admin/applications/approve")
async def approve_selected(
    request: Request, session: DbSession, settings: AppSettings, admin: PageAdmin
) -> Response:
    form = await _checked_form(request)
    ids = [int(value) for value in form.getlist("ids") if str(value).isdigit()]
    attempts = await service.approve_many(session, ids, settings)
    approved = sum(attempt.error is None for attempt in attempts)
    query = f"approved={approved}&refused={len(attempts) - approved}"
    return RedirectResponse(f"/admin?{query}", status_code=303)


async def _detail(
    request: Request, session: DbSession, application_id: int, **context: Any
) -> Response:
    application = await service.get(session, application_id)
    programme = await programmes_service.get(session, application.programme_id)
    return render(
        request,
        "admin_application.html",
        status_code=context.pop("status_code", 200),
        application=application,
        programme=programme,
        cheque=await vouchers_service.for_application(session, application_id),
        history=await review.history(session, application, staff=True),
        asked=await review.pending_request(session, application),
        done=request.query_params.get("done"),
        **context,
    )


@router.get("/admin/applications/{application_id:int}", response_class=HTMLResponse)
async def application_detail(
    request: Request, application_id: int, session: DbSession, admin: PageAdmin
) -> Response:
    return await _detail(request, session, application_id)


async def _act(
    request: Request, session: DbSession, application_id: int, action: str, work: Any
) -> Response:
    """Run one review action (atomic): on refusal the page says why, nothing changed."""
    try:
        await work
    except ServiceError as error:
        return await _detail(
            request, session, application_id, status_code=error.status, error=error
        )
    return RedirectResponse(f"/admin/applications/{application_id}?done={action}", status_code=303)


async def _checked_form(request: Request) -> Any:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    return form


@router.post("/admin/applications/{application_id:int}/approve", response_class=HTMLResponse)
async def approve_one(
    request: Request,
    application_id: int,
    session: DbSession,
    settings: AppSettings,
    admin: PageAdmin,
) -> Response:
    await _checked_form(request)
    work = service.approve(session, application_id, settings)
    return await _act(request, session, application_id, "approve", work)


@router.post("/admin/applications/{application_id:int}/reject", response_class=HTMLResponse)
async def reject_one(
    request: Request,
    application_id: int,
    session: DbSession,
    settings: AppSettings,
    admin: PageAdmin,
) -> Response:
    reason = str((await _checked_form(request)).get("reason", "")).strip()
    if not 3 <= len(reason) <= 1000:
        return await _detail(request, session, application_id, status_code=422, reason_error=True)
    work = service.reject(session, application_id, reason, settings)
    return await _act(request, session, application_id, "reject", work)


@router.post("/admin/applications/{application_id:int}/recheck", response_class=HTMLResponse)
async def recheck_one(
    request: Request,
    application_id: int,
    session: DbSession,
    registry: Registry,
    admin: PageAdmin,
) -> Response:
    await _checked_form(request)
    work = service.recheck(session, application_id, registry)
    return await _act(request, session, application_id, "recheck", work)


async def _text(request: Request, name: str, shortest: int) -> tuple[str, bool]:
    """The form's text field, stripped, and whether its length is right (up to 2000)."""
    text = str((await _checked_form(request)).get(name, "")).strip()
    return text, shortest <= len(text) <= TEXT_MAX


@router.post("/admin/applications/{application_id:int}/notes", response_class=HTMLResponse)
async def add_note(
    request: Request, application_id: int, session: DbSession, staff: ReviewerPage
) -> Response:
    text, valid = await _text(request, "note", 1)
    if not valid:
        return await _detail(
            request, session, application_id, status_code=422, note_error=True, note=text
        )
    work = review.add_note(session, application_id, text)
    return await _act(request, session, application_id, "note", work)


@router.post(
    "/admin/applications/{application_id:int}/correction-request", response_class=HTMLResponse
)
async def request_correction(
    request: Request,
    application_id: int,
    session: DbSession,
    settings: AppSettings,
    staff: ReviewerPage,
) -> Response:
    text, valid = await _text(request, "request", 3)
    if not valid:
        context = {"status_code": 422, "request_error": True, "request_text": text}
        return await _detail(request, session, application_id, **context)
    work = review.request_correction(session, application_id, text, settings)
    return await _act(request, session, application_id, "correction", work)
