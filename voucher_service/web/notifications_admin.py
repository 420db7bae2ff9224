"""Administrators watch outgoing e-mail and put dead messages back in the queue."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notifications import service
from notifications.models import NotificationStatus
from voucher_service.core.auth.dependencies import AppSettings, require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.db import DbSession
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[User, Depends(require_page_roles(Role.admin))]
PER_PAGE = 50
PREVIEW_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'self'; sandbox"
    ),
    "Cache-Control": "no-store",
}

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
    "application_correction_requested": "Complément demandé au demandeur",
    "voucher_redeemed": "Chèque utilisé",
    "redemption_receipt": "Reçu d'encaissement (expert)",
    "redemption_cancelled": "Encaissement annulé (expert)",
    "voucher_expiring": "Rappel avant expiration",
    "voucher_cancelled": "Chèque annulé",
    "payout_sent": "Virement envoyé (expert)",
    "expert_invitation": "Invitation d'un expert",
    "expert_accredited": "Accréditation confirmée (expert)",
    "expert_suspended": "Accréditation suspendue (expert)",
    "expert_revoked": "Accréditation retirée (expert)",
    "expert_bank_details_refused": "Coordonnées bancaires refusées (expert)",
    "password_reset": "Réinitialisation du mot de passe",
    "account_created": "Ouverture d'un compte",
    "status_link": "Lien de suivi renvoyé",
    "audit_checkpoint": "Point de contrôle du journal d'audit",
}


@router.get("/admin/notifications", response_class=HTMLResponse)
async def notifications_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
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
        smtp_configured=bool(settings.smtp_host),
    )


@router.get("/admin/notifications/{notification_id:int}", response_class=HTMLResponse)
async def message_page(
    request: Request, notification_id: int, session: DbSession, admin: AdminPage
) -> Response:
    """The message as its recipient reads it: subject, text, HTML preview, attachments."""
    return render(
        request,
        "notification_message.html",
        message=await service.read(session, notification_id),
        status_labels=STATUS_LABELS,
        event_labels=EVENT_LABELS,
    )


@router.get("/admin/notifications/{notification_id:int}/html", response_class=HTMLResponse)
async def message_html(notification_id: int, session: DbSession, admin: AdminPage) -> Response:
    """The HTML part, framed by the message's page: its inline styles only, no script, no
    request anywhere (an image or a link's target is never fetched by the preview)."""
    message = await service.read(session, notification_id)
    return HTMLResponse(message.rendered.html, headers=PREVIEW_HEADERS)


@router.get("/admin/notifications/{notification_id:int}/attachments/{attachment_id:int}")
async def message_attachment(
    notification_id: int, attachment_id: int, session: DbSession, admin: AdminPage
) -> Response:
    found = await service.attachment(session, notification_id, attachment_id)
    disposition = f"attachment; filename*=UTF-8''{quote(found.filename)}"
    return Response(
        found.content,
        media_type=found.content_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
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
