from fastapi import APIRouter

from voucher_service.core.auth.dependencies import AdminUser
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import Forbidden, Unauthorized, problem_responses
from voucher_service.programmes import service
from voucher_service.programmes.errors import (
    BudgetBelowCommitted,
    FrozenOnceOpen,
    ProgrammeAlreadyClosed,
    ProgrammeNameTaken,
    ProgrammeNotFound,
)
from voucher_service.programmes.schemas import ProgrammeCreate, ProgrammePublic, ProgrammeUpdate

router = APIRouter(prefix="/api/v1/programmes", tags=["programmes"])
AUTH = (Unauthorized, Forbidden)


@router.post(
    "",
    status_code=201,
    summary="Create a programme with its rules and envelope",
    responses=problem_responses(*AUTH, ProgrammeNameTaken),
)
async def create_programme(
    body: ProgrammeCreate, session: DbSession, admin: AdminUser
) -> ProgrammePublic:
    return ProgrammePublic.model_validate(await service.create(session, body))


@router.get("", summary="List programmes", responses=problem_responses(*AUTH))
async def list_programmes(session: DbSession, admin: AdminUser) -> list[ProgrammePublic]:
    return [ProgrammePublic.model_validate(p) for p in await service.list_all(session)]


@router.get(
    "/{programme_id:int}",
    summary="One programme",
    responses=problem_responses(*AUTH, ProgrammeNotFound),
)
async def get_programme(
    programme_id: EntityId, session: DbSession, admin: AdminUser
) -> ProgrammePublic:
    return ProgrammePublic.model_validate(await service.get(session, programme_id))


@router.patch(
    "/{programme_id:int}",
    summary="Edit a programme; rule changes make a new version",
    responses=problem_responses(
        *AUTH, ProgrammeNotFound, ProgrammeNameTaken, BudgetBelowCommitted, FrozenOnceOpen
    ),
)
async def edit_programme(
    programme_id: EntityId, body: ProgrammeUpdate, session: DbSession, admin: AdminUser
) -> ProgrammePublic:
    return ProgrammePublic.model_validate(await service.edit(session, programme_id, body))


@router.post(
    "/{programme_id:int}/close",
    summary="Close a programme to new applications from now on",
    description="Its cheques and its envelope stay; closing twice is 409.",
    responses=problem_responses(*AUTH, ProgrammeNotFound, ProgrammeAlreadyClosed),
)
async def close_programme(
    programme_id: EntityId, session: DbSession, admin: AdminUser
) -> ProgrammePublic:
    return ProgrammePublic.model_validate(await service.close(session, programme_id))
