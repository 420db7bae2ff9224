"""Administrators watch outgoing e-mail and put dead messages back in the queue."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notifications import service
from notifications.models import NotificationStatus
from voucher_service.core.auth.dependencies import require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.db import DbSession
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[User, Depends(require_page_roles(Role.admin))]
PER_PAGE = 50

STATUS_LABELS = {
    NotificationStatus.queued: "En attente",
    NotificationStatus.sending: "En cours d'envoi",
    NotificationStatus.sent: "Envoyé",
    NotificationStatus.dead: "Échec définitif",
}
EVENT_LABELS = {
    "application_received": "Demande reçue",
    "application_needs_review": "Demande à examiner",
    "application_approved": "Demande acceptée, chèque joint",
    "application_rejected": "Demande refusée",
    "voucher_redeemed": "Chèque utilisé",
    "redemption_receipt": "Reçu d'encaissement (expert)",
    "redemption_cancelled": "Encaissement annulé (expert)",
    "voucher_expiring": "Rappel avant expiration",
    "voucher_cancelled": "Chèque annulé",
    "payout_sent": "Virement envoyé (expert)",
    "expert_invitation": "Invitation d'un expert",
    "password_reset": "Réinitialisation du mot de passe",
    "account_created": "Ouverture d'un compte",
    "audit_checkpoint": "Point de contrôle du journal d'audit",
}


@router.get("/admin/notifications", response_class=HTMLResponse)
async def notifications_page(
    request: Request,
    session: DbSession,
    admin: AdminPage,
    status: NotificationStatus | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    requeued: int | None = None,
) -> Response:
    items, total = await service.list_page(session, status, page, PER_PAGE)
    return render(
        request,
        "notifications_admin.html",
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        status=status,
        counts=await service.count_by_status(session),
        requeued=requeued,
        status_labels=STATUS_LABELS,
        event_labels=EVENT_LABELS,
    )


@router.post("/admin/notifications/{notification_id:int}/requeue")
async def requeue_from_page(
    request: Request,
    notification_id: int,
    session: DbSession,
    admin: AdminPage,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    await service.requeue(session, notification_id)
    return RedirectResponse(
        f"/admin/notifications?status=dead&requeued={notification_id}", status_code=303
    )
