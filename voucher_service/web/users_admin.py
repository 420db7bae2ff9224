"""Administrators' logins: list, open an account (its owner chooses the password from an
e-mailed link), change a role, deactivate or reactivate, send a password reset link.
Every action is a use case of core/auth/accounts, as for the API."""

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core.auth import accounts
from voucher_service.core.auth.dependencies import AppSettings, require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.auth.schemas import UserCreate
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import ServiceError
from voucher_service.core.notify import AppNotify
from voucher_service.core.roles import ROLE_LABELS
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[User, Depends(require_page_roles(Role.admin))]
Csrf = Annotated[str, Form()]
LIST = "/admin/users"
FIELD_MESSAGES = {
    "email": "Indiquez une adresse e-mail valide, par exemple prenom.nom@maregionsud.fr.",
    "role": "Choisissez un rôle.",
}
DONE = {
    "created": (
        "Le compte est ouvert : un lien pour choisir son mot de passe vient de lui être "
        "envoyé par e-mail."
    ),
    "role": "Le rôle est changé : les sessions ouvertes de ce compte sont terminées.",
    "deactivated": (
        "Le compte est désactivé : ses sessions sont terminées et il ne peut plus se connecter."
    ),
    "activated": "Le compte est réactivé : il peut se connecter à nouveau.",
    "reset": "Un lien pour choisir un nouveau mot de passe vient d'être envoyé par e-mail.",
}


async def _list(
    request: Request, session: AsyncSession, status_code: int = 200, **context: Any
) -> Response:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render(
        request,
        "users_admin.html",
        status_code=status_code,
        users=await accounts.list_accounts(session),
        role_labels=ROLE_LABELS,
        **context,
    )


@router.get(LIST, response_class=HTMLResponse)
async def users_page(request: Request, session: DbSession, admin: AdminPage) -> Response:
    return await _list(request, session)


@router.post(LIST, response_class=HTMLResponse)
async def open_account(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    notify: AppNotify,
    admin: AdminPage,
    csrf_token: Csrf = "",
    email: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    values = {"email": email.strip(), "role": role}
    try:
        body = UserCreate.model_validate(values)
    except ValidationError as error:
        names = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
        errors = {name: text for name, text in FIELD_MESSAGES.items() if name in names}
        return await _list(request, session, 422, values=values, errors=errors)
    try:
        user = await accounts.open_account(session, settings, notify, body.email, body.role)
    except ServiceError as error:
        return await _list(request, session, error.status, values=values, error=error)
    return RedirectResponse(f"{LIST}/{user.id}?done=created", status_code=303)


async def _user_page(
    request: Request, session: AsyncSession, user_id: int, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "user_admin.html",
        status_code=status_code,
        account=await accounts.get(session, user_id),
        role_labels=ROLE_LABELS,
        done=DONE.get(request.query_params.get("done", "")),
        **context,
    )


@router.get(f"{LIST}/{{user_id:int}}", response_class=HTMLResponse)
async def user_page(
    request: Request, user_id: EntityId, session: DbSession, admin: AdminPage
) -> Response:
    return await _user_page(request, session, user_id)


async def _act(
    request: Request,
    session: AsyncSession,
    user_id: int,
    done: str,
    work: Awaitable[object],
) -> Response:
    """Run one use case; its refusal is shown on the account's page, nothing changed."""
    try:
        await work
    except ServiceError as error:
        return await _user_page(request, session, user_id, error.status, error=error)
    return RedirectResponse(f"{LIST}/{user_id}?done={done}", status_code=303)


@router.post(f"{LIST}/{{user_id:int}}/role", response_class=HTMLResponse)
async def change_role(
    request: Request,
    user_id: EntityId,
    session: DbSession,
    admin: AdminPage,
    csrf_token: Csrf = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if role not in Role.__members__:
        return await _user_page(request, session, user_id, 422, role_error=FIELD_MESSAGES["role"])
    work = accounts.change_role(session, admin, user_id, Role(role))
    return await _act(request, session, user_id, "role", work)


@router.post(f"{LIST}/{{user_id:int}}/active", response_class=HTMLResponse)
async def set_active(
    request: Request,
    user_id: EntityId,
    session: DbSession,
    admin: AdminPage,
    csrf_token: Csrf = "",
    active: Annotated[bool, Form()] = False,
) -> Response:
    """Deactivate (ending every session of the account) or reactivate."""
    check_csrf(request, csrf_token)
    work = accounts.set_active(session, admin, user_id, active)
    return await _act(request, session, user_id, "activated" if active else "deactivated", work)


@router.post(f"{LIST}/{{user_id:int}}/password-reset", response_class=HTMLResponse)
async def send_reset_link(
    request: Request,
    user_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    notify: AppNotify,
    admin: AdminPage,
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    work = accounts.send_reset_link(session, settings, notify, user_id)
    return await _act(request, session, user_id, "reset", work)
