"""Who is calling: a bearer token for the API, a session cookie for the pages."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from voucher_service.core.auth import second_factor
from voucher_service.core.auth.models import Role, User
from voucher_service.core.auth.tokens import read_token
from voucher_service.core.config import Settings
from voucher_service.core.context import Actor, current_actor
from voucher_service.core.db import DbSession
from voucher_service.core.errors import Forbidden, Unauthorized
from voucher_service.core.roles import role_names

SESSION_COOKIE = "mcd_session"

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def client_address(request: Request) -> str:
    """The address the request came from, which throttles count by."""
    return request.client.host if request.client else "unknown"


class LoginRequired(Unauthorized):
    """Raised by page routes: browsers are sent to the login page."""

    code = "login_required"
    title = "Connexion requise"


@dataclass(frozen=True)
class SignedIn:
    """What pages show of the signed-in user. A plain copy, because a page that fails
    rolls its session back, which expires the ORM user before the error page renders."""

    id: int | None
    email: str
    role: Role


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


async def user_of_token(
    session: DbSession, settings: Settings, token: str | None, kind: str
) -> User | None:
    """The active user a valid token of that kind was issued to, while its sessions last."""
    claims = read_token(settings, token, kind) if token else None
    if claims is None:
        return None
    user = await session.get(User, int(claims["sub"]))
    if user is None or not user.is_active or claims["ep"] != user.session_epoch:
        return None
    current_actor.set(Actor(user.id, user.role.value, user.email))
    return user


async def api_user(
    session: DbSession, settings: AppSettings, token: Annotated[str | None, Depends(bearer)]
) -> User:
    user = await user_of_token(session, settings, token, "access")
    if user is None:
        raise Unauthorized("Jeton d'accès manquant, invalide ou expiré.")
    second_factor.ensure_enrolled(settings, user)
    return user


async def signed_in_or_none(
    request: Request, session: DbSession, settings: AppSettings
) -> User | None:
    """The page's user, even one who must still enrol a second factor (enrolment, logout)."""
    user = await user_of_token(session, settings, request.cookies.get(SESSION_COOKIE), "session")
    request.state.user = None if user is None else SignedIn(user.id, user.email, user.role)
    return user


async def page_user_or_none(
    settings: AppSettings, user: Annotated[User | None, Depends(signed_in_or_none)]
) -> User | None:
    """The page's user; one who must enrol a second factor first is sent to do so."""
    if user is not None:
        second_factor.ensure_enrolled(settings, user)
    return user


async def page_user(user: Annotated[User | None, Depends(page_user_or_none)]) -> User:
    if user is None:
        raise LoginRequired()
    return user


def require_api_roles(*roles: Role) -> Callable[..., Awaitable[User]]:
    """An API dependency admitting these roles; the OpenAPI spec reads `roles` to list 401/403."""

    async def dependency(user: Annotated[User, Depends(api_user)]) -> User:
        if user.role not in roles:
            raise Forbidden(f"Réservé aux rôles : {', '.join(r.value for r in roles)}.")
        return user

    dependency.roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI spec and its test
    return dependency


def require_page_roles(*roles: Role) -> Callable[..., Awaitable[User]]:
    async def dependency(user: Annotated[User, Depends(page_user)]) -> User:
        if user.role not in roles:
            raise Forbidden(f"Page réservée aux rôles : {role_names(roles)}.")
        return user

    return dependency


AnyUser = Annotated[User, Depends(require_api_roles(*Role))]
AdminUser = Annotated[User, Depends(require_api_roles(Role.admin))]
AccountantUser = Annotated[User, Depends(require_api_roles(Role.accountant, Role.admin))]
ExpertUser = Annotated[User, Depends(require_api_roles(Role.expert))]
