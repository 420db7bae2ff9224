from fastapi import APIRouter

from notifications import service
from notifications.errors import NotificationNotDead, NotificationNotFound
from notifications.models import NotificationStatus
from notifications.schemas import NotificationPage, NotificationPublic
from voucher_service.core.auth.dependencies import AdminUser
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import Forbidden, Unauthorized, problem_responses
from voucher_service.core.pagination import PageNumber, PerPage

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
AUTH = (Unauthorized, Forbidden)


@router.get(
    "",
    summary="Outgoing e-mails, newest first, optionally by status (dead: delivery gave up)",
    responses=problem_responses(*AUTH),
)
async def list_notifications(
    session: DbSession,
    admin: AdminUser,
    status: NotificationStatus | None = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> NotificationPage:
    items, total = await service.list_page(session, status, page, per_page)
    return NotificationPage(
        items=[NotificationPublic.model_validate(item) for item in items],
        total=total,
        page=page,
        per_page=per_page,
    )


@router.post(
    "/{notification_id:int}/requeue",
    summary="Queue a dead e-mail again, with a fresh set of attempts and the same Message-ID",
    responses=problem_responses(*AUTH, NotificationNotFound, NotificationNotDead),
)
async def requeue(
    notification_id: EntityId, session: DbSession, admin: AdminUser
) -> NotificationPublic:
    return NotificationPublic.model_validate(await service.requeue(session, notification_id))
