"""Staff and expert login with a session cookie, and logout."""

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from voucher_service.applications.fictitious_registry import COMPANIES, FictitiousCompany
from voucher_service.core.auth import second_factor
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.dependencies import (
    SESSION_COOKIE,
    AppSettings,
    client_address,
    page_user_or_none,
    signed_in_or_none,
    user_of_token,
)
from voucher_service.core.auth.models import Role, User
from voucher_service.core.auth.reset import DONE
from voucher_service.core.auth.tokens import issue_token
from voucher_service.core.config import FICTITIOUS_REGISTRY, Settings
from voucher_service.core.db import DbSession
from voucher_service.core.errors import (
    InvalidCredentials,
    ServiceError,
    TooManyRequests,
    Unauthorized,
)
from voucher_service.web.rendering import ENROLMENT_PAGE, check_csrf, render, set_cookie

router = APIRouter(include_in_schema=False)

# Between the password and the second factor's code: a signed proof that the password was
# right, in a cookie that expires soon, which opens no page.
PENDING_COOKIE = "mcd_login_pending"
PENDING_KIND = "login_pending"
PENDING_LIFETIME = timedelta(minutes=5)
CREDENTIALS_FIRST = "Saisissez d'abord votre adresse e-mail et votre mot de passe."


class LoginExpired(Unauthorized):
    code = "login_expired"
    title = "La connexion a expiré"


# Each role lands on its own workspace after logging in.
HOME_BY_ROLE: dict[Role, str] = {
    Role.admin: "/admin",
    Role.accountant: "/accounting",
    Role.expert: "/expert",
}


def safe_next(target: str | None, user: User) -> str:
    # A backslash is a slash to a browser: "/\host" would lead to another site.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME_BY_ROLE.get(user.role, "/")


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, user: Annotated[User | None, Depends(page_user_or_none)]
) -> Response:
    return render(request, "home.html")


def demo_companies(settings: Settings) -> tuple[FictitiousCompany, ...]:
    """The fictitious companies to try, shown while the demo's registry answers."""
    return COMPANIES if settings.registry_url == FICTITIOUS_REGISTRY else ()


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    settings: AppSettings,
    next: str | None = None,
    invitation: str | None = None,
    reset: str | None = None,
) -> Response:
    notice = DONE if "ok" in (invitation, reset) else None
    return render(
        request,
        "login.html",
        next=next or "",
        email="",
        notice=notice,
        demo_companies=demo_companies(settings),
    )


def _login_refused(
    request: Request, template: str, error: ServiceError, **context: object
) -> Response:
    page = render(
        request, template, status_code=error.status, error=error.detail or error.title, **context
    )
    page.headers.update(error.headers)
    return page


def start_session(request: Request, settings: Settings, user: User, response: Response) -> Response:
    """Give the response a fresh session cookie for the user."""
    lifetime = timedelta(hours=settings.session_hours)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        issue_token(settings, user, lifetime, kind="session"),
        max_age=int(lifetime.total_seconds()),
    )
    return response


def signed_in(request: Request, settings: Settings, user: User, target: str) -> Response:
    """Go to ``target`` with a fresh session cookie for the user."""
    return start_session(request, settings, user, RedirectResponse(target, status_code=303))


def _landing(settings: Settings, user: User, next: str) -> str:
    if second_factor.must_enrol(settings, user):
        return ENROLMENT_PAGE
    return safe_next(next, user)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    address = client_address(request)
    try:
        user = await auth_service.check_password(session, settings, email, password, address)
    except (InvalidCredentials, TooManyRequests) as error:
        companies = demo_companies(settings)
        return _login_refused(
            request, "login.html", error, next=next, email=email, demo_companies=companies
        )
    if user.totp_secret is None:
        await auth_service.finish_login(session, settings, user, None, address)
        return signed_in(request, settings, user, _landing(settings, user, next))
    response = RedirectResponse(f"/login/2fa?next={quote(next)}", status_code=303)
    pending = issue_token(settings, user, PENDING_LIFETIME, kind=PENDING_KIND)
    max_age = int(PENDING_LIFETIME.total_seconds())
    set_cookie(request, response, PENDING_COOKIE, pending, max_age=max_age, same_site="strict")
    return response


@router.get("/login/2fa", response_class=HTMLResponse)
async def second_step_form(request: Request, next: str = "") -> Response:
    if PENDING_COOKIE not in request.cookies:
        return render(request, "login.html", next=next, email="", notice=CREDENTIALS_FIRST)
    return render(request, "login_2fa.html", next=next)


@router.post("/login/2fa", response_class=HTMLResponse)
async def second_step(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    code: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The code after the password; the password's proof is a short-lived signed cookie."""
    check_csrf(request, csrf_token)
    pending = request.cookies.get(PENDING_COOKIE)
    user = await user_of_token(session, settings, pending, PENDING_KIND)
    if user is None:
        expired = LoginExpired("La connexion a expiré : saisissez à nouveau votre mot de passe.")
        return _login_refused(request, "login.html", expired, next=next, email="")
    try:
        await auth_service.finish_login(session, settings, user, code, client_address(request))
    except (second_factor.TotpRequired, second_factor.InvalidTotp, TooManyRequests) as error:
        return _login_refused(request, "login_2fa.html", error, next=next)
    response = signed_in(request, settings, user, safe_next(next, user))
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(
    request: Request,
    session: DbSession,
    user: Annotated[User | None, Depends(signed_in_or_none)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Ends every session of the user, so that a copy of the cookie opens nothing either."""
    check_csrf(request, csrf_token)
    if user is not None:
        await auth_service.log_out(session, user)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
