"""The accountant's page: payout batches, SEPA files, bank statements and exports."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core.auth.dependencies import AppSettings, require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.db import DbSession, get_session
from voucher_service.payouts import batches, downloads
from voucher_service.payouts.endpoints import statement_result
from voucher_service.payouts.models import BatchStatus
from voucher_service.vouchers.validity import paris_today
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
AccountantPage = Annotated[User, Depends(require_page_roles(Role.accountant, Role.admin))]
StreamSession = Annotated[AsyncSession, Depends(get_session)]

STATUS_LABELS = {
    BatchStatus.draft: "Brouillon",
    BatchStatus.exported: "Envoyé à la banque",
    BatchStatus.settled: "Réglé",
    BatchStatus.partially_settled: "Partiellement réglé",
    BatchStatus.cancelled: "Annulé",
}


async def _page(request: Request, session: AsyncSession, **context: object) -> Response:
    today = paris_today()
    return render(
        request,
        "accounting.html",
        batches=await batches.list_batches(session, 0, 50),
        status_labels=STATUS_LABELS,
        today=today,
        month_start=today.replace(day=1),
        **context,
    )


@router.get("/accounting", response_class=HTMLResponse)
async def accounting_page(
    request: Request,
    session: DbSession,
    user: AccountantPage,
    created: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    cancelled: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    return await _page(request, session, created=created, cancelled=cancelled)


@router.post("/accounting/batches")
async def create_batch(
    request: Request,
    session: DbSession,
    user: AccountantPage,
    cut_off: Annotated[date, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    batch = await batches.create_batch(session, cut_off)
    return RedirectResponse(f"/accounting?created={batch.id}", status_code=303)


@router.post("/accounting/batches/{batch_id:int}/cancel")
async def cancel_batch(
    request: Request,
    batch_id: int,
    session: DbSession,
    user: AccountantPage,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    await batches.cancel_batch(session, batch_id)
    return RedirectResponse(f"/accounting?cancelled={batch_id}", status_code=303)


@router.get("/accounting/batches/{batch_id:int}/sepa.xml")
async def batch_sepa(
    batch_id: int, session: DbSession, user: AccountantPage, settings: AppSettings
) -> Response:
    document = await batches.sepa_file(session, batch_id, settings)
    disposition = f'attachment; filename="virements-lot-{batch_id}.xml"'
    return Response(
        document, media_type="application/xml", headers={"Content-Disposition": disposition}
    )


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
    result = await statement_result(session, file, settings)
    return await _page(request, session, imported=result)


@router.get("/accounting/exports/reconciliation.csv")
async def reconciliation_csv(
    session: StreamSession,
    user: AccountantPage,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> Response:
    return downloads.reconciliation(session, start, end)


@router.get("/accounting/exports/fec.txt")
async def fec_txt(
    session: StreamSession,
    user: AccountantPage,
    settings: AppSettings,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> Response:
    return downloads.fec(session, start, end, settings)
