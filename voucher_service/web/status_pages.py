"""The business's pages, opened by its status link (it has no account): where the
application stands, its cheque with the QR and the PDF, and the link sent again when lost."""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from experts import service as experts_service
from voucher_service.applications import review, status, status_link
from voucher_service.applications.errors import NoCorrectionRequested, TooManyStatusLinkRequests
from voucher_service.applications.review_schemas import TEXT_MAX
from voucher_service.applications.schemas import StatusLinkAsk, french_errors
from voucher_service.core.auth.dependencies import AppSettings, client_address
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import AppTransaction, DbSession
from voucher_service.vouchers import qr
from voucher_service.vouchers.models import Voucher
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
LINK_PAGE = "status_link.html"


def _private(response: Response) -> Response:
    """The status token is in the address: no other site may see it."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _qr(settings: Settings, cheque: Voucher) -> Markup:
    label = f"QR code du chèque {cheque.code}, à présenter à l'expert"
    return Markup(qr.svg(qr.redemption_url(settings, cheque.token), label))  # noqa: S704


async def _status(
    request: Request, session: DbSession, settings: Settings, token: str, **context: Any
) -> Response:
    found = await status.status_of(session, token)
    cheque = found.cheque
    redemptions = []
    if cheque is not None:
        assert cheque.id is not None
        redemptions = await experts_service.redemptions_of_voucher(session, cheque.id)
    page = render(
        request,
        "status.html",
        context.pop("status_code", 200),
        application=found.application,
        programme=found.programme,
        cheque=cheque,
        cheque_status=cheque.status_on(paris_today()).value if cheque else None,
        qr=_qr(settings, cheque) if cheque else None,
        redemptions=redemptions,
        history=await review.history(session, found.application, staff=False),
        asked=await review.pending_request(session, found.application),
        token=token,
        **context,
    )
    return _private(page)


@router.get("/status/{token}", response_class=HTMLResponse)
async def status_page(
    request: Request, token: str, session: DbSession, settings: AppSettings
) -> Response:
    answered = request.query_params.get("answered") is not None
    return await _status(request, session, settings, token, answered=answered)


@router.post("/status/{token}/correction", response_class=HTMLResponse)
async def answer_correction(
    request: Request,
    token: str,
    session: DbSession,
    settings: AppSettings,
    answer: Annotated[str, Form(max_length=TEXT_MAX + 100)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """The applicant's answer; the status token is the credential, as for the page."""
    check_csrf(request, csrf_token)
    answer = answer.strip()
    if not 1 <= len(answer) <= TEXT_MAX:
        context = {"status_code": 422, "answer": answer, "answer_error": True}
        return await _status(request, session, settings, token, **context)
    try:
        await review.answer_correction(session, token, answer)
    except NoCorrectionRequested as error:
        return await _status(request, session, settings, token, status_code=409, problem=error)
    return _private(RedirectResponse(f"/status/{token}?answered#historique", status_code=303))


@router.get("/status/{token}/cheque.pdf", response_class=Response)
async def cheque_pdf(token: str, session: DbSession, settings: AppSettings) -> Response:
    pdf = await status.cheque_pdf(session, token, settings)
    headers = {
        "Content-Disposition": f'attachment; filename="{pdf.filename}"',
        "Cache-Control": "no-store",
    }
    return _private(Response(pdf.content, media_type="application/pdf", headers=headers))


@router.get("/status-link", response_class=HTMLResponse)
async def status_link_form(request: Request) -> Response:
    return _private(render(request, LINK_PAGE, values={}, errors={}))


@router.post("/status-link", response_class=HTMLResponse)
async def ask_status_link(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    transaction: AppTransaction,
    background: BackgroundTasks,
    siret: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    values = {"siret": siret, "email": email}
    try:
        body = StatusLinkAsk.model_validate(values)
    except ValidationError as error:
        errors = french_errors(error.errors())
        return _private(render(request, LINK_PAGE, 422, values=values, errors=errors))
    try:
        asked = await status_link.request_link(session, settings, body, client_address(request))
    except TooManyStatusLinkRequests as error:
        page = render(request, LINK_PAGE, error.status, values=values, errors={}, problem=error)
        page.headers.update(error.headers)
        return _private(page)
    background.add_task(status_link.mail_link_after_answer, transaction, settings, asked)
    return _private(render(request, LINK_PAGE, values={}, errors={}, sent=status_link.ANSWER))
