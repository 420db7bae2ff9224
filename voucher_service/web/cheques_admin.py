"""The back office's cheques: search by code, SIRET or company and filter by state; a
cheque's page with its history, its application, its redemptions and their payment, its
PDF, the approval e-mail sent again, and the cancellation with its reason. Every action is
the use case the API calls; accountants read, administrators act."""

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from experts import service as experts_service
from voucher_service.applications import service as applications_service
from voucher_service.core.auth.dependencies import AppSettings, require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import DbSession
from voucher_service.core.errors import ServiceError
from voucher_service.core.formatting import spaced_siret
from voucher_service.payouts import details as payout_details
from voucher_service.payouts import labels as payout_labels
from voucher_service.vouchers import cancellable, codes, history, labels
from voucher_service.vouchers import service as vouchers_service
from voucher_service.vouchers.models import Voucher, VoucherStatus
from voucher_service.vouchers.schemas import VoucherCancel
from voucher_service.web.expert_pages import PAYOUT_LABELS
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[User, Depends(require_page_roles(Role.admin))]
ReaderPage = Annotated[User, Depends(require_page_roles(Role.admin, Role.accountant))]
LIST = "/admin/cheques"
PER_PAGE = 25
CANCEL = "cheque_cancel.html"
REASON_ERROR = (
    "Indiquez le motif de l'annulation, en 3 à 500 caractères : il est écrit à l'entreprise."
)
DONE = {
    "resent": "L'e-mail d'approbation est renvoyé à l'entreprise, avec le chèque en PDF.",
    "cancelled": "Le chèque est annulé : l'entreprise en est informée par e-mail, avec le motif.",
}
TEMPLATE_GLOBALS: dict[str, Any] = {
    "cheque_labels": labels,
    "payout_labels": PAYOUT_LABELS,
    "batch_labels": payout_labels.BATCH_STATUS,
    "transfer_labels": payout_labels.TRANSFER_STATUS,
    "spaced_siret": spaced_siret,
}


def _state(status: str) -> VoucherStatus | None:
    """The state filter as chosen; « Tous » (or anything else) filters nothing."""
    return VoucherStatus(status) if status in VoucherStatus.__members__ else None


def _cheque_url(code: str, done: str | None = None) -> str:
    return f"{LIST}/{quote(code, safe='')}" + (f"?done={done}" if done else "")


@router.get(LIST, response_class=HTMLResponse)
async def cheques_page(
    request: Request,
    session: DbSession,
    user: ReaderPage,
    q: Annotated[str, Query(max_length=100)] = "",
    status: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    search, state = q.strip(), _state(status)
    found, total = await vouchers_service.list_vouchers(
        session, paris_today(), status=state, search=search, page=page, page_size=PER_PAGE
    )
    exact = codes.normalise(search) if search else None
    if exact is not None and [cheque.code for cheque in found] == [exact]:
        return RedirectResponse(_cheque_url(exact), status_code=303)
    query = {"q": search, "status": state.value if state else ""}
    return render(
        request,
        "cheques_admin.html",
        cheques=found,
        total=total,
        page=page,
        pages=(total + PER_PAGE - 1) // PER_PAGE,
        search=search,
        state=state,
        query=urlencode({k: v for k, v in query.items() if v}),
        today=paris_today(),
        **TEMPLATE_GLOBALS,
    )


async def _what_happened(session: AsyncSession, voucher: Voucher) -> dict[str, Any]:
    """The cheque's history, its redemptions and the payout batch of each."""
    assert voucher.id is not None
    uses = await experts_service.redemptions_of_voucher(session, voucher.id)
    payouts = await payout_details.payouts_of(session, [use.redemption_id for use in uses])
    return {"events": await history.events(session, voucher.id), "uses": uses, "payouts": payouts}


async def _cheque_page(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    code: str,
    status_code: int = 200,
    template: str = "cheque_admin.html",
    **context: Any,
) -> Response:
    """The cheque's page (or its cancellation's), with what can no longer be done and why."""
    voucher, programme = await vouchers_service.resolve_with_programme(session, code, settings)
    if template == "cheque_admin.html":
        context.update(await _what_happened(session, voucher))
    return render(
        request,
        template,
        status_code=status_code,
        cheque=voucher,
        programme=programme,
        state=voucher.status_on(paris_today()),
        cancel_refusal=cancellable.refusal(voucher),
        resend_refusal=applications_service.why_not_resent(voucher),
        done=DONE.get(request.query_params.get("done", "")),
        **TEMPLATE_GLOBALS,
        **context,
    )


@router.get(f"{LIST}/{{code}}", response_class=HTMLResponse)
async def cheque_page(
    request: Request, code: str, session: DbSession, settings: AppSettings, user: ReaderPage
) -> Response:
    voucher = await vouchers_service.resolve(session, code, settings)
    if voucher.code != code:  # typed loosely, or its token: the page has one address
        return RedirectResponse(_cheque_url(voucher.code), status_code=303)
    return await _cheque_page(request, session, settings, code)


@router.get(f"{LIST}/{{code}}/cheque.pdf", response_class=Response)
async def cheque_pdf(
    code: str, session: DbSession, settings: AppSettings, admin: AdminPage
) -> Response:
    """The cheque's PDF, the same as the API's and the approval e-mail's."""
    voucher, programme = await vouchers_service.resolve_with_programme(session, code, settings)
    content = await vouchers_service.render_pdf(voucher, programme, settings)
    headers = {
        "Content-Disposition": f'attachment; filename="cheque-{voucher.code}.pdf"',
        "Cache-Control": "no-store",
    }
    return Response(content, media_type="application/pdf", headers=headers)


async def _checked(request: Request) -> dict[str, str]:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    return {name: str(value) for name, value in form.items()}


@router.post(f"{LIST}/{{code}}/resend", response_class=HTMLResponse)
async def resend_cheque(
    request: Request, code: str, session: DbSession, settings: AppSettings, admin: AdminPage
) -> Response:
    """The approval e-mail with the cheque's PDF, sent again to the business."""
    await _checked(request)
    voucher = await vouchers_service.resolve(session, code, settings)
    try:
        await applications_service.resend_cheque(session, voucher.application_id, settings)
    except ServiceError as error:
        return await _cheque_page(request, session, settings, code, error.status, error=error)
    return RedirectResponse(_cheque_url(voucher.code, "resent"), status_code=303)


@router.get(f"{LIST}/{{code}}/cancel", response_class=HTMLResponse)
async def cancel_form(
    request: Request, code: str, session: DbSession, settings: AppSettings, admin: AdminPage
) -> Response:
    """What cancelling does, and the reason asked before it is confirmed."""
    return await _cheque_page(request, session, settings, code, template=CANCEL, reason="")


@router.post(f"{LIST}/{{code}}/cancel", response_class=HTMLResponse)
async def cancel_cheque(
    request: Request, code: str, session: DbSession, settings: AppSettings, admin: AdminPage
) -> Response:
    typed = (await _checked(request)).get("reason", "")
    try:
        body = VoucherCancel.model_validate({"reason": typed})
    except ValidationError:
        return await _cheque_page(
            request, session, settings, code, 422, CANCEL, reason=typed, reason_error=REASON_ERROR
        )
    voucher = await vouchers_service.resolve(session, code, settings)
    assert voucher.id is not None
    try:
        await vouchers_service.cancel(session, voucher.id, body.reason)
    except ServiceError as error:
        return await _cheque_page(request, session, settings, code, error.status, error=error)
    return RedirectResponse(_cheque_url(voucher.code, "cancelled"), status_code=303)
