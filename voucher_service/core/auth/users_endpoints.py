"""Administrators manage logins: the same use cases as the back office (core/auth/accounts)."""

from fastapi import APIRouter

from voucher_service.core.auth import accounts, service
from voucher_service.core.auth.dependencies import AdminUser, AppSettings
from voucher_service.core.auth.schemas import ResetMessage, RoleChange, UserCreate, UserPublic
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import Forbidden, Unauthorized, problem_responses
from voucher_service.core.notify import AppNotify

router = APIRouter(prefix="/api/v1/users", tags=["auth"])
AUTH = (Unauthorized, Forbidden)
LINK_SENT = "Un lien pour choisir un mot de passe est envoyé à {email}."


@router.post(
    "",
    status_code=201,
    summary="Create a staff or expert login",
    description="Without a `password`, the user gets a link by e-mail to choose one.",
    responses=problem_responses(*AUTH, service.EmailTaken),
)
async def create_user(
    body: UserCreate, session: DbSession, settings: AppSettings, notify: AppNotify, admin: AdminUser
) -> UserPublic:
    user = await accounts.open_account(
        session, settings, notify, body.email, body.role, body.password
    )
    return UserPublic.model_validate(user)


@router.get("", summary="List logins", responses=problem_responses(*AUTH))
async def list_users(session: DbSession, admin: AdminUser) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in await accounts.list_accounts(session)]


@router.post(
    "/{user_id:int}/role",
    summary="Change a login's role; its sessions end",
    responses=problem_responses(*AUTH, accounts.AccountNotFound, accounts.OwnAccount),
)
async def change_role(
    user_id: EntityId, body: RoleChange, session: DbSession, admin: AdminUser
) -> UserPublic:
    user = await accounts.change_role(session, admin, user_id, body.role)
    return UserPublic.model_validate(user)


@router.post(
    "/{user_id:int}/deactivate",
    summary="Refuse a login from now on; its sessions end",
    responses=problem_responses(*AUTH, accounts.AccountNotFound, accounts.OwnAccount),
)
async def deactivate_user(user_id: EntityId, session: DbSession, admin: AdminUser) -> UserPublic:
    user = await accounts.set_active(session, admin, user_id, False)
    return UserPublic.model_validate(user)


@router.post(
    "/{user_id:int}/activate",
    summary="Let a deactivated login sign in again (its old sessions stay ended)",
    responses=problem_responses(*AUTH, accounts.AccountNotFound, accounts.OwnAccount),
)
async def activate_user(user_id: EntityId, session: DbSession, admin: AdminUser) -> UserPublic:
    user = await accounts.set_active(session, admin, user_id, True)
    return UserPublic.model_validate(user)


@router.post(
    "/{user_id:int}/password-reset",
    status_code=202,
    summary="Mail the user a link to choose a new password",
    responses=problem_responses(*AUTH, accounts.AccountNotFound, accounts.AccountInactive),
)
async def send_reset_link(
    user_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    notify: AppNotify,
    admin: AdminUser,
) -> ResetMessage:
    user = await accounts.send_reset_link(session, settings, notify, user_id)
    return ResetMessage(detail=LINK_SENT.format(email=user.email))
