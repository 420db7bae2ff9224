"""Staff and expert login with a session cookie, and logout."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.dependencies import (
    SESSION_COOKIE,
    AppSettings,
    page_user_or_none,
)
from voucher_service.core.auth.endpoints import client_address
from voucher_service.core.auth.models import Role, User
from voucher_service.core.auth.reset import DONE
from voucher_service.core.auth.tokens import issue_token
from voucher_service.core.db import DbSession
from voucher_service.core.errors import InvalidCredentials, TooManyRequests
from voucher_service.web.rendering import check_csrf, render, set_cookie

router = APIRouter(include_in_schema=False)

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


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    next: str | None = None,
    invitation: str | None = None,
    reset: str | None = None,
) -> Response:
    notice = DONE if "ok" in (invitation, reset) else None
    return render(request, "login.html", next=next or "", email="", notice=notice)


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
    try:
        user = await auth_service.authenticate(
            session, settings, email, password, client_address(request)
        )
    except (InvalidCredentials, TooManyRequests) as error:
        page = render(
            request,
            "login.html",
            status_code=error.status,
            next=next,
            email=email,
            error=error.detail or error.title,
        )
        page.headers.update(error.headers)
        return page
    lifetime = timedelta(hours=settings.session_hours)
    response = RedirectResponse(safe_next(next, user), status_code=303)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        issue_token(settings, user, lifetime, kind="session"),
        max_age=int(lifetime.total_seconds()),
    )
    return response


@router.post("/logout")
async def logout(
    request: Request,
    session: DbSession,
    user: Annotated[User | None, Depends(page_user_or_none)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Ends every session of the user, so that a copy of the cookie opens nothing either."""
    check_csrf(request, csrf_token)
    if user is not None:
        await auth_service.log_out(session, user)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
