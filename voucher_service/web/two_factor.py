"""The signed-in user's second factor: enrolment with a QR code, recovery codes shown once,
renewing them, turning it off. Each change ends the user's other sessions: this browser
gets a fresh cookie."""

import base64
from typing import Annotated, Any

import qrcode
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from qrcode.image.svg import SvgPathImage

from voucher_service.core.auth import enrolment, second_factor
from voucher_service.core.auth.dependencies import (
    AppSettings,
    LoginRequired,
    client_address,
    signed_in_or_none,
)
from voucher_service.core.auth.models import User
from voucher_service.core.config import Settings
from voucher_service.core.db import DbSession
from voucher_service.core.errors import ServiceError, TooManyRequests
from voucher_service.web.account import safe_next, signed_in, start_session
from voucher_service.web.rendering import ENROLMENT_PAGE, check_csrf, render

router = APIRouter(include_in_schema=False)
DISABLED = "La double authentification est désactivée."


async def enrolling_user(user: Annotated[User | None, Depends(signed_in_or_none)]) -> User:
    """Any signed-in user, also one who must enrol before anything else."""
    if user is None:
        raise LoginRequired()
    return user


EnrollingUser = Annotated[User, Depends(enrolling_user)]
Code = Annotated[str, Form(max_length=64)]
CsrfToken = Annotated[str, Form()]


def qr_data_uri(text: str) -> str:
    """The QR code of ``text`` as an SVG data URI, drawn here: no request leaves the page."""
    svg = qrcode.make(text, image_factory=SvgPathImage, border=2).to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _enrolment(settings: Settings, user: User, pending: str) -> second_factor.Enrolment:
    """The enrolment being confirmed, while it lasts (the QR code already scanned), or a new one."""
    try:
        secret = second_factor.pending_secret(settings, user, pending) if pending else None
    except second_factor.EnrolmentExpired:
        secret = None
    return second_factor.new_enrolment(settings, user, secret)


def _page(
    request: Request, settings: Settings, user: User, pending: str = "", **context: Any
) -> Response:
    status = context.pop("status_code", 200)
    if user.totp_secret is None:
        started = _enrolment(settings, user, pending)
        context |= {"enrolment": started, "qr": qr_data_uri(started.uri)}
    context["required"] = second_factor.is_required(settings, user)
    return _private(render(request, "account_2fa.html", status_code=status, **context))


def _refused(
    request: Request,
    settings: Settings,
    user: User,
    error: ServiceError,
    field: str,
    pending: str = "",
) -> Response:
    errors = {field: error.detail or error.title}
    page = _page(request, settings, user, pending, status_code=error.status, errors=errors)
    page.headers.update(error.headers)
    return page


def _codes_shown(request: Request, settings: Settings, user: User, codes: list[str]) -> Response:
    """The recovery codes, once, in a page that signs this browser in again."""
    page = render(request, "recovery_codes.html", codes=codes, home=safe_next(None, user))
    return _private(start_session(request, settings, user, page))


@router.get("/account/2fa", response_class=HTMLResponse)
async def second_factor_page(
    request: Request, settings: AppSettings, user: EnrollingUser, notice: str | None = None
) -> Response:
    return _page(request, settings, user, notice=DISABLED if notice == "disabled" else None)


@router.post("/account/2fa", response_class=HTMLResponse)
async def enable(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: EnrollingUser,
    code: Code = "",
    pending: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: CsrfToken = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        codes = await enrolment.enable(session, settings, user, pending, code)
    except (
        second_factor.InvalidTotp,
        second_factor.EnrolmentExpired,
        enrolment.AlreadyEnrolled,
    ) as error:
        return _refused(request, settings, user, error, "code", pending)
    return _codes_shown(request, settings, user, codes)


@router.post("/account/2fa/recovery-codes", response_class=HTMLResponse)
async def renew_recovery_codes(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: EnrollingUser,
    code: Code = "",
    csrf_token: CsrfToken = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        codes = await enrolment.renew_recovery_codes(
            session, settings, user, code, client_address(request)
        )
    except (second_factor.InvalidTotp, enrolment.NotEnrolled, TooManyRequests) as error:
        return _refused(request, settings, user, error, "renew_code")
    return _codes_shown(request, settings, user, codes)


@router.post("/account/2fa/disable", response_class=HTMLResponse)
async def disable(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: EnrollingUser,
    proof: Annotated[str, Form(max_length=200)] = "",
    csrf_token: CsrfToken = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        await enrolment.disable(session, settings, user, proof, client_address(request))
    except (
        enrolment.ProofRefused,
        enrolment.NotEnrolled,
        enrolment.RequiredByRole,
        TooManyRequests,
    ) as error:
        return _refused(request, settings, user, error, "proof")
    return signed_in(request, settings, user, f"{ENROLMENT_PAGE}?notice=disabled")
