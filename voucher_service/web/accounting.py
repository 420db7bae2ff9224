"""The accountant's page: payout batches, SEPA files, bank statements and exports."""

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import iban

from voucher_service.core.auth import accounts
from voucher_service.core.auth.dependencies import (
    AppSettings,
    get_app_settings,
    require_page_roles,
)
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.db import DbSession, EntityId, StreamSession
from voucher_service.core.errors import ServiceError
from voucher_service.payouts import approval, batches, details, downloads, labels, statements
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
AccountantPage = Annotated[User, Depends(require_page_roles(Role.accountant, Role.admin))]


def _render(request: Request, template: str, status_code: int = 200, **context: object) -> Response:
    """A page of the accounting, with the French words for states and codes."""
    return render(
        request,
        template,
        status_code=status_code,
        labels=labels,
        status_labels=labels.BATCH_STATUS,
        format_iban=iban.format,
        **context,
    )


async def _page(
    request: Request, session: AsyncSession, status_code: int = 200, **context: object
) -> Response:
    now = utcnow()
    today = paris_today(now)
    settings = get_app_settings(request)
    listed = await batches.list_batches(session, 0, 50)
    people = {b.prepared_by_id for b in listed} | {b.approved_by_id for b in listed}
    context.setdefault("values", {})
    return _render(
        request,
        "accounting.html",
        status_code=status_code,
        batches=listed,
        people=await accounts.emails(session, people),
        awaits_approval=lambda batch: approval.awaits_approval(batch, settings),
        may_approve=approval.may_approve,
        approval_required=settings.payout_approval_required,
        execution_dates={b.id: batches.execution_date(b, now, settings) for b in listed},
        statements=await details.imported_statements(session),
        today=today,
        month_start=today.replace(day=1),
        **context,
    )


async def _refused(
    request: Request, session: AsyncSession, error: ServiceError, form: str, **values: str
) -> Response:
    """The page again, the refusal beside the form it came from and the typed values kept."""
    return await _page(
        request, session, status_code=error.status, error=error, error_form=form, values=values
    )


@router.get("/accounting", response_class=HTMLResponse)
async def accounting_page(
    request: Request,
    session: DbSession,
    user: AccountantPage,
    created: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    cancelled: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    exported: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    approved: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    done = {"created": created, "cancelled": cancelled, "exported": exported, "approved": approved}
    return await _page(request, session, 200, **done)


@router.post("/accounting/batches")
async def create_batch(
    request: Request,
    session: DbSession,
    user: AccountantPage,
    cut_off: Annotated[date, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        batch = await batches.create_batch(session, cut_off)
    except ServiceError as error:
        return await _refused(request, session, error, "batch", cut_off=cut_off.isoformat())
    return RedirectResponse(f"/accounting?created={batch.id}", status_code=303)


@router.get("/accounting/batches/{batch_id:int}", response_class=HTMLResponse)
async def batch_page(
    request: Request, batch_id: EntityId, session: DbSession, user: AccountantPage
) -> Response:
    """One batch: its transfers, their state and return reason, the cheques each pays."""
    return _render(
        request, "accounting_batch.html", detail=await details.batch_detail(session, batch_id)
    )


BatchStep = Callable[[AsyncSession, int, Settings], Awaitable[object]]
STEPS: dict[str, tuple[BatchStep, str]] = {
    "cancel": (lambda session, batch_id, _: batches.cancel_batch(session, batch_id), "cancelled"),
    "approve": (lambda session, batch_id, _: approval.approve_batch(session, batch_id), "approved"),
    "export": (batches.export_batch, "exported"),
}


@router.post("/accounting/batches/{batch_id:int}/{step}")
async def batch_step(
    request: Request,
    batch_id: int,
    step: Literal["cancel", "approve", "export"],
    session: DbSession,
    user: AccountantPage,
    settings: AppSettings,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """One step of a batch's life from its row (cancel a draft, approve it as the second
    person, export it): the list with what was done, or the page again with the refusal."""
    check_csrf(request, csrf_token)
    take, done = STEPS[step]
    try:
        await take(session, batch_id, settings)
    except ServiceError as error:
        return await _refused(request, session, error, "batches")
    return RedirectResponse(f"/accounting?{done}={batch_id}", status_code=303)


@router.get("/accounting/batches/{batch_id:int}/sepa.xml")
async def batch_sepa(
    batch_id: int, session: DbSession, user: AccountantPage, settings: AppSettings
) -> Response:
    return await downloads.sepa_file(session, batch_id, settings)


STATEMENT_UPLOAD_PATH = "/accounting/statements"  # has its own body limit (app.py)


@router.post(STATEMENT_UPLOAD_PATH, response_class=HTMLResponse)
async def upload_statement(
    request: Request,
    session: DbSession,
    user: AccountantPage,
    settings: AppSettings,
    file: UploadFile,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        result = await statements.import_upload(session, file, settings)
    except ServiceError as error:
        return await _refused(request, session, error, "statement", file=file.filename or "")
    return await _page(request, session, imported=result)


@router.get("/accounting/statements/{import_id:int}", response_class=HTMLResponse)
async def statement_page(
    request: Request, import_id: EntityId, session: DbSession, user: AccountantPage
) -> Response:
    """One imported statement and every line of it, with what the import did with it."""
    detail = await details.statement_detail(session, import_id)
    return _render(request, "accounting_statement.html", detail=detail)


async def _export(
    request: Request, session: AsyncSession, start: date, end: date, produce: Callable[[], Response]
) -> Response:
    try:
        return produce()
    except ServiceError as error:
        values = {"start": start.isoformat(), "end": end.isoformat()}
        return await _refused(request, session, error, "exports", **values)


@router.get("/accounting/exports/reconciliation.csv")
async def reconciliation_csv(
    session: StreamSession,
    user: AccountantPage,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    request: Request,
) -> Response:
    return await _export(
        request, session, start, end, lambda: downloads.reconciliation(session, start, end)
    )


@router.get("/accounting/exports/fec.txt")
async def fec_txt(
    session: StreamSession,
    user: AccountantPage,
    settings: AppSettings,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    request: Request,
) -> Response:
    return await _export(
        request, session, start, end, lambda: downloads.fec(session, start, end, settings)
    )
