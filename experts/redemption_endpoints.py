from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response

from experts import redemption, registry
from experts.errors import (
    AlreadyInPayout,
    ExpertNotFound,
    InvalidCoachingDate,
    NotAccredited,
    NotYourRedemption,
    RedeemedByAnotherExpert,
    RedemptionCancelled,
    RedemptionNotFound,
    TooManyFailedRedemptions,
    UndoWindowClosed,
)
from experts.schemas import RedemptionCreate, RedemptionPublic, VoucherCheck, VoucherPresented
from voucher_service.core import idempotency
from voucher_service.core.auth.dependencies import AppSettings, ExpertUser
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import Unauthorized, problem_responses
from voucher_service.vouchers import errors as voucher_errors

router = APIRouter(prefix="/api/v1/redemptions", tags=["redemptions"])
RESOLVE_ERRORS = (
    voucher_errors.InvalidToken,
    voucher_errors.UnknownSigningKey,
    voucher_errors.VoucherNotFound,
)
TAKE_ERRORS = (
    voucher_errors.AlreadyRedeemed,
    voucher_errors.InsufficientBalance,
    voucher_errors.VoucherExpired,
    voucher_errors.VoucherCancelled,
    voucher_errors.VoucherNotYetValid,
    RedeemedByAnotherExpert,
)
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


@router.post(
    "/check",
    summary="Look a cheque up before redeeming it",
    responses=problem_responses(Unauthorized, ExpertNotFound, NotAccredited, *RESOLVE_ERRORS),
)
async def check_voucher(
    body: VoucherPresented, session: DbSession, user: ExpertUser, settings: AppSettings
) -> VoucherCheck:
    expert = await registry.for_user(session, user)
    return await redemption.check(session, expert, body.token, settings)


@router.post(
    "",
    status_code=201,
    summary="Redeem a cheque (honours Idempotency-Key)",
    response_model=RedemptionPublic,
    responses=problem_responses(
        Unauthorized,
        NotAccredited,
        ExpertNotFound,
        TooManyFailedRedemptions,
        InvalidCoachingDate,
        idempotency.IdempotencyKeyReused,
        *RESOLVE_ERRORS,
        *TAKE_ERRORS,
    ),
)
async def redeem(
    body: RedemptionCreate,
    session: DbSession,
    user: ExpertUser,
    settings: AppSettings,
    key: IdempotencyKey = None,
) -> Response:
    answer = await redemption.redeem_once(session, user, body, settings, key)
    return JSONResponse(answer.body, status_code=answer.status_code)


@router.get(
    "",
    summary="The expert's own redemptions and their payout state",
    responses=problem_responses(Unauthorized, ExpertNotFound),
)
async def list_redemptions(
    session: DbSession, user: ExpertUser, settings: AppSettings
) -> list[RedemptionPublic]:
    expert = await registry.for_user(session, user)
    rows = await redemption.list_for(session, expert)
    return [redemption.public(r, v, settings) for r, v in rows]


@router.post(
    "/{redemption_id}/cancel",
    summary="Undo a redemption within the window",
    responses=problem_responses(
        Unauthorized,
        ExpertNotFound,
        RedemptionNotFound,
        NotYourRedemption,
        RedemptionCancelled,
        AlreadyInPayout,
        UndoWindowClosed,
    ),
)
async def cancel_redemption(
    redemption_id: EntityId, session: DbSession, user: ExpertUser, settings: AppSettings
) -> RedemptionPublic:
    expert = await registry.for_user(session, user)
    done, voucher = await redemption.cancel(session, expert, redemption_id, settings)
    return redemption.public(done, voucher, settings)
