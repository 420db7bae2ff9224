"""Jinja2 templates with French formatting, CSRF tokens and the friendly error page."""

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from voucher_service.core.auth.dependencies import LoginRequired
from voucher_service.core.auth.second_factor import EnrolmentRequired
from voucher_service.core.config import Settings
from voucher_service.core.errors import CsrfFailed, ServiceError
from voucher_service.core.formatting import FILTERS

CSRF_COOKIE = "mcd_csrf"
CSRF_FIELD = "csrf_token"
ENROLMENT_PAGE = "/account/2fa"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


templates.env.filters.update(FILTERS)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _sign(settings: Settings, nonce: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def _csrf_nonce(request: Request) -> str:
    nonce = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_nonce", None)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        request.state.csrf_nonce = nonce
    return str(nonce)


def csrf_token(request: Request) -> str:
    return _sign(_settings(request), _csrf_nonce(request))


def check_csrf(request: Request, submitted: str | None) -> None:
    nonce = request.cookies.get(CSRF_COOKIE)
    expected = _sign(_settings(request), nonce) if nonce else None
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise CsrfFailed()


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    max_age: int | None = None,
    same_site: Literal["lax", "strict", "none"] = "lax",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite=same_site,
        secure=_settings(request).public_url.startswith("https"),
        path="/",
    )


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", getattr(request.state, "user", None))
    response = templates.TemplateResponse(
        request, template, {"csrf_token": csrf_token(request), **context}, status_code=status_code
    )
    if CSRF_COOKIE not in request.cookies:
        set_cookie(request, response, CSRF_COOKIE, _csrf_nonce(request), same_site="strict")
    return response


def render_error(request: Request, error: ServiceError) -> Response:
    if isinstance(error, LoginRequired):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if isinstance(error, EnrolmentRequired):
        return RedirectResponse(ENROLMENT_PAGE, status_code=303)
    response = render(request, "error.html", status_code=error.status, error=error)
    response.headers.update(error.headers)
    return response
