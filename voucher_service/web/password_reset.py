"""Forgotten password: ask for a link by e-mail, then choose a new password through it.
The pages never tell whether an account exists, and send no referrer from the link."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from voucher_service.core.auth import reset
from voucher_service.core.auth.dependencies import AppSettings, client_address
from voucher_service.core.auth.schemas import PasswordResetAsk
from voucher_service.core.db import AppTransaction, DbSession
from voucher_service.core.notify import AppNotify
from voucher_service.web.new_password import NewPasswordForm
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
ASK, CHOOSE = "password_reset_request.html", "password_reset.html"
NOT_AN_EMAIL = "Indiquez une adresse e-mail valide, par exemple nom@exemple.fr."


def _private(response: Response) -> Response:
    """The link's token is in the address: no other site may see it."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/password-reset", response_class=HTMLResponse)
async def ask_form(request: Request) -> Response:
    return _private(render(request, ASK, email="", errors={}))


@router.post("/password-reset", response_class=HTMLResponse)
async def ask(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    notify: AppNotify,
    transaction: AppTransaction,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=254)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        body = PasswordResetAsk(email=email)
    except ValidationError:
        errors = {"email": NOT_AN_EMAIL}
        return _private(render(request, ASK, status_code=422, email=email, errors=errors))
    try:
        asked = await reset.request_reset(session, settings, body.email, client_address(request))
    except reset.TooManyResetRequests as error:
        response = render(
            request, ASK, status_code=error.status, email=email, errors={}, problem=error
        )
        response.headers.update(error.headers)
        return _private(response)
    background.add_task(reset.mail_link_after_answer, transaction, settings, notify, asked)
    sent = reset.requested(settings)
    return _private(render(request, ASK, sent=sent, errors={}))


@router.get("/password-reset/{token}", response_class=HTMLResponse)
async def choose_form(request: Request, token: str, session: DbSession) -> Response:
    """A used or expired link says so at once, before anything is typed."""
    if not await reset.is_usable(session, token):
        return _refused(request, token, reset.ResetLinkInvalid())
    return _private(render(request, CHOOSE, token=token, errors={}))


@router.post("/password-reset/{token}", response_class=HTMLResponse)
async def choose(
    request: Request, token: str, session: DbSession, form: NewPasswordForm
) -> Response:
    if form.errors:
        return _private(render(request, CHOOSE, status_code=422, token=token, errors=form.errors))
    try:
        await reset.complete_reset(session, token, form.password)
    except reset.ResetLinkInvalid as error:
        return _refused(request, token, error)
    return _private(RedirectResponse("/login?reset=ok", status_code=303))


def _refused(request: Request, token: str, error: reset.ResetLinkInvalid) -> Response:
    return _private(
        render(request, CHOOSE, status_code=error.status, token=token, errors={}, problem=error)
    )
