"""The audit trail's signed checkpoints, for administrators and the auditors they serve."""

from fastapi import APIRouter
from pydantic import BaseModel

from voucher_service.core import audit_checkpoints
from voucher_service.core.audit_checkpoints import Checkpoint
from voucher_service.core.auth.dependencies import AdminUser, AppSettings
from voucher_service.core.db import DbSession
from voucher_service.core.errors import Forbidden, Unauthorized, problem_responses
from voucher_service.core.pagination import PageNumber, PerPage

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class CheckpointPage(BaseModel):
    public_key: str  # PEM: what verifies every checkpoint listed, without the secret
    key_id: str
    items: list[Checkpoint]
    total: int
    page: int
    per_page: int


@router.get(
    "/checkpoints",
    summary="Signed checkpoints of the audit trail, newest first, with the key that verifies them",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_checkpoints(
    session: DbSession,
    admin: AdminUser,
    settings: AppSettings,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> CheckpointPage:
    items, total = await audit_checkpoints.page(session, (page - 1) * per_page, per_page)
    public_key = audit_checkpoints.signing_key(settings).public_key()
    return CheckpointPage(
        public_key=audit_checkpoints.public_key_pem(public_key),
        key_id=audit_checkpoints.key_id(public_key),
        items=[Checkpoint.model_validate(item, from_attributes=True) for item in items],
        total=total,
        page=page,
        per_page=per_page,
    )
