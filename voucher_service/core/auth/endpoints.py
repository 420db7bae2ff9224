from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from voucher_service.core.auth import reset, second_factor, service
from voucher_service.core.auth.dependencies import (
    AnyUser,
    AppSettings,
    client_address,
)
from voucher_service.core.auth.schemas import (
    PasswordResetAsk,
    PasswordResetConfirm,
    ResetMessage,
    Token,
    UserPublic,
)
from voucher_service.core.auth.tokens import issue_token
from voucher_service.core.db import AppTransaction, DbSession
from voucher_service.core.errors import (
    InvalidCredentials,
    TooManyRequests,
    Unauthorized,
    problem_responses,
)
from voucher_service.core.notify import AppNotify

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post(
    "/auth/token",
    summary="Exchange e-mail and password (and the second factor's code) for a bearer token",
    description=(
        "A user with a second factor adds the form field `totp`: the 6-digit code of the "
        "app, or one of the recovery codes (each works once). Without it: 401 "
        "`totp_required`; a wrong or already used code: 401 `invalid_totp`, counted as a "
        "failed login. A user whose role requires a second factor and who has not enrolled "
        "one yet (on the page /account/2fa) gets 403 `totp_enrolment_required`."
    ),
    responses=problem_responses(
        InvalidCredentials,
        second_factor.TotpRequired,
        second_factor.InvalidTotp,
        second_factor.EnrolmentRequired,
        TooManyRequests,
    ),
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
    settings: AppSettings,
    request: Request,
    totp: Annotated[str | None, Form(max_length=64)] = None,
) -> Token:
    user = await service.authenticate(
        session, settings, form.username, form.password, client_address(request), totp
    )
    second_factor.ensure_enrolled(settings, user)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    return Token(
        access_token=issue_token(settings, user, lifetime),
        expires_in=int(lifetime.total_seconds()),
        role=user.role,
    )


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    summary="End every session and token of the caller",
    responses=problem_responses(Unauthorized),
)
async def logout(session: DbSession, user: AnyUser) -> None:
    await service.log_out(session, user)


@router.post(
    "/auth/password-reset",
    status_code=202,
    summary="Mail a one-time password reset link, if an active account has this e-mail",
    description="The answer is the same whether or not the account exists.",
    responses=problem_responses(reset.TooManyResetRequests),
)
async def request_password_reset(
    body: PasswordResetAsk,
    session: DbSession,
    settings: AppSettings,
    notify: AppNotify,
    transaction: AppTransaction,
    background: BackgroundTasks,
    request: Request,
) -> ResetMessage:
    asked = await reset.request_reset(session, settings, body.email, client_address(request))
    background.add_task(reset.mail_link_after_answer, transaction, settings, notify, asked)
    return ResetMessage(detail=reset.requested(settings))


@router.post(
    "/auth/password-reset/confirm",
    summary="Choose a new password with the link's token",
    responses=problem_responses(reset.ResetLinkInvalid),
)
async def confirm_password_reset(body: PasswordResetConfirm, session: DbSession) -> ResetMessage:
    await reset.complete_reset(session, body.token, body.password)
    return ResetMessage(detail=reset.DONE)


@router.get(
    "/auth/me",
    summary="The account behind the bearer token",
    responses=problem_responses(Unauthorized),
)
async def me(user: AnyUser) -> UserPublic:
    return UserPublic.model_validate(user)
