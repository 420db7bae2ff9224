from typing import Annotated

from fastapi import APIRouter, Query

from experts import listing, registry
from experts.errors import (
    ExpertExists,
    ExpertNotFound,
    InvitationAlreadyAccepted,
    NoPendingBankDetails,
    TransitionRefused,
)
from experts.models import Accreditation
from experts.schemas import (
    BankDetails,
    Decision,
    ExpertCreate,
    ExpertDetail,
    ExpertFilters,
    ExpertPublic,
)
from voucher_service.core.auth.dependencies import AdminUser, AppSettings, ExpertUser
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import Forbidden, Unauthorized, problem_responses

router = APIRouter(prefix="/api/v1/experts", tags=["experts"])
AUTH = (Unauthorized, Forbidden)


async def _detail(session: DbSession, expert_id: int) -> ExpertDetail:
    expert = await registry.get(session, expert_id)
    changes = await registry.history(session, expert_id)
    return ExpertDetail.model_validate(
        {**ExpertPublic.model_validate(expert).model_dump(), "history": changes}
    )


@router.post(
    "",
    status_code=201,
    summary="Register an expert and its login",
    responses=problem_responses(*AUTH, ExpertExists),
)
async def register_expert(
    body: ExpertCreate, session: DbSession, settings: AppSettings, admin: AdminUser
) -> ExpertPublic:
    expert, _invitation = await registry.register(session, body, settings)
    return ExpertPublic.model_validate(expert)


@router.get(
    "",
    summary="List experts, by state, theme, département or text (name, SIRET, e-mail)",
    responses=problem_responses(*AUTH),
)
async def list_experts(
    session: DbSession, admin: AdminUser, filters: Annotated[ExpertFilters, Query()]
) -> list[ExpertPublic]:
    experts, _total = await listing.search(session, filters)
    return [ExpertPublic.model_validate(e) for e in experts]


@router.get(
    "/me", summary="The expert behind the token", responses=problem_responses(*AUTH, ExpertNotFound)
)
async def my_expert(session: DbSession, user: ExpertUser) -> ExpertPublic:
    return ExpertPublic.model_validate(await registry.for_user(session, user))


@router.post(
    "/me/bank-details",
    summary="Ask for new bank details (an admin confirms them)",
    responses=problem_responses(*AUTH, ExpertNotFound),
)
async def request_bank_details(
    body: BankDetails, session: DbSession, user: ExpertUser
) -> ExpertPublic:
    expert = await registry.for_user(session, user)
    return ExpertPublic.model_validate(await registry.request_bank_change(session, expert, body))


@router.get(
    "/{expert_id:int}",
    summary="One expert with its accreditation history",
    responses=problem_responses(*AUTH, ExpertNotFound),
)
async def get_expert(expert_id: EntityId, session: DbSession, admin: AdminUser) -> ExpertDetail:
    return await _detail(session, expert_id)


@router.post(
    "/{expert_id:int}/bank-details/confirm",
    summary="Confirm requested bank details",
    responses=problem_responses(*AUTH, ExpertNotFound, NoPendingBankDetails),
)
async def confirm_bank_details(
    expert_id: EntityId, session: DbSession, admin: AdminUser
) -> ExpertPublic:
    return ExpertPublic.model_validate(await registry.confirm_bank_change(session, expert_id))


@router.post(
    "/{expert_id:int}/bank-details/refuse",
    summary="Refuse requested bank details; the expert is told the reason",
    responses=problem_responses(*AUTH, ExpertNotFound, NoPendingBankDetails),
)
async def refuse_bank_details(
    expert_id: EntityId, body: Decision, session: DbSession, admin: AdminUser
) -> ExpertPublic:
    expert = await registry.refuse_bank_change(session, expert_id, body.reason)
    return ExpertPublic.model_validate(expert)


@router.post(
    "/{expert_id:int}/resend-invitation",
    summary="Mail a new invitation link to an expert who has not chosen a password yet",
    responses=problem_responses(*AUTH, ExpertNotFound, InvitationAlreadyAccepted),
)
async def resend_invitation(
    expert_id: EntityId, session: DbSession, settings: AppSettings, admin: AdminUser
) -> ExpertPublic:
    expert = await registry.resend_invitation(session, expert_id, settings)
    return ExpertPublic.model_validate(expert)


async def _decide(
    session: DbSession, settings: AppSettings, expert_id: int, to: Accreditation, body: Decision
) -> ExpertDetail:
    await registry.change_status(session, expert_id, to, body.reason, settings)
    return await _detail(session, expert_id)


DECISION_ERRORS = problem_responses(*AUTH, ExpertNotFound, TransitionRefused)


@router.post("/{expert_id:int}/accredit", summary="Accredit an expert", responses=DECISION_ERRORS)
async def accredit(
    expert_id: EntityId,
    body: Decision,
    session: DbSession,
    settings: AppSettings,
    admin: AdminUser,
) -> ExpertDetail:
    return await _decide(session, settings, expert_id, Accreditation.accredited, body)


@router.post(
    "/{expert_id:int}/suspend", summary="Suspend an accreditation", responses=DECISION_ERRORS
)
async def suspend(
    expert_id: EntityId,
    body: Decision,
    session: DbSession,
    settings: AppSettings,
    admin: AdminUser,
) -> ExpertDetail:
    return await _decide(session, settings, expert_id, Accreditation.suspended, body)


@router.post(
    "/{expert_id:int}/revoke", summary="Revoke an accreditation for good", responses=DECISION_ERRORS
)
async def revoke(
    expert_id: EntityId,
    body: Decision,
    session: DbSession,
    settings: AppSettings,
    admin: AdminUser,
) -> ExpertDetail:
    return await _decide(session, settings, expert_id, Accreditation.revoked, body)
