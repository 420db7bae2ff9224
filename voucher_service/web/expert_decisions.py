"""What an administrator decides on an expert's page: accredit, suspend or revoke (each with
the reason the expert is told; revoking, which is final, is confirmed), confirm or refuse
requested bank details, send the invitation again. A refusal is shown beside its form with
what was typed kept."""

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from experts import registry
from experts.models import Accreditation
from experts.schemas import Decision
from voucher_service.core.auth.dependencies import AppSettings
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import ServiceError
from voucher_service.web.experts_admin import LIST, AdminPage, Csrf, detail_page
from voucher_service.web.rendering import check_csrf

router = APIRouter(include_in_schema=False)
Reason = Annotated[str, Form(max_length=2000)]
DECISIONS = {
    "accredit": Accreditation.accredited,
    "suspend": Accreditation.suspended,
    "revoke": Accreditation.revoked,
}
NO_REASON = "Indiquez la raison : l'expert la lira dans l'e-mail qui l'informe."
TOO_LONG = "La raison tient en 500 caractères au plus."
NOT_CONFIRMED = "Cochez la case pour confirmer : le retrait est définitif."


def _reason(text: str) -> tuple[str | None, str | None]:
    """The reason, or why it cannot be one."""
    try:
        return Decision(reason=text).reason, None
    except ValidationError:
        return None, NO_REASON if not text.strip() else TOO_LONG


async def _act(
    request: Request,
    session: AsyncSession,
    expert_id: int,
    form: str,
    done: str,
    work: Awaitable[object],
    values: dict[str, str],
) -> Response:
    """Run one use case; its refusal is shown beside the form it came from."""
    try:
        await work
    except ServiceError as error:
        return await detail_page(
            request, session, expert_id, error.status, refused=form, error=error, values=values
        )
    return RedirectResponse(f"{LIST}/{expert_id}?done={done}", status_code=303)


async def _decide(
    request: Request,
    session: AsyncSession,
    settings: AppSettings,
    expert_id: int,
    action: str,
    reason_text: str,
    confirmed: bool = True,
) -> Response:
    to = DECISIONS[action]
    values = {f"{action}_reason": reason_text}
    reason, problem = _reason(reason_text)
    errors = {f"{action}_reason": problem} if problem else {}
    if not confirmed:
        errors[f"{action}_confirm"] = NOT_CONFIRMED
    if reason is None or errors:
        return await detail_page(request, session, expert_id, 422, values=values, errors=errors)
    work = registry.change_status(session, expert_id, to, reason, settings)
    return await _act(request, session, expert_id, action, to.value, work, values)


@router.post(f"{LIST}/{{expert_id:int}}/accredit", response_class=HTMLResponse)
async def accredit(
    request: Request,
    expert_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    admin: AdminPage,
    csrf_token: Csrf = "",
    reason: Reason = "",
) -> Response:
    check_csrf(request, csrf_token)
    return await _decide(request, session, settings, expert_id, "accredit", reason)


@router.post(f"{LIST}/{{expert_id:int}}/suspend", response_class=HTMLResponse)
async def suspend(
    request: Request,
    expert_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    admin: AdminPage,
    csrf_token: Csrf = "",
    reason: Reason = "",
) -> Response:
    check_csrf(request, csrf_token)
    return await _decide(request, session, settings, expert_id, "suspend", reason)


@router.post(f"{LIST}/{{expert_id:int}}/revoke", response_class=HTMLResponse)
async def revoke(
    request: Request,
    expert_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    admin: AdminPage,
    csrf_token: Csrf = "",
    reason: Reason = "",
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Final: the administrator ticks a box that says so."""
    check_csrf(request, csrf_token)
    return await _decide(request, session, settings, expert_id, "revoke", reason, confirm)


@router.post(f"{LIST}/{{expert_id:int}}/bank-details/confirm", response_class=HTMLResponse)
async def confirm_bank_details(
    request: Request,
    expert_id: EntityId,
    session: DbSession,
    admin: AdminPage,
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    work = registry.confirm_bank_change(session, expert_id)
    return await _act(request, session, expert_id, "bank", "bank_confirmed", work, {})


@router.post(f"{LIST}/{{expert_id:int}}/bank-details/refuse", response_class=HTMLResponse)
async def refuse_bank_details(
    request: Request,
    expert_id: EntityId,
    session: DbSession,
    admin: AdminPage,
    csrf_token: Csrf = "",
    reason: Reason = "",
) -> Response:
    check_csrf(request, csrf_token)
    values = {"bank_reason": reason}
    text, problem = _reason(reason)
    if text is None:
        errors = {"bank_reason": problem or NO_REASON}
        return await detail_page(request, session, expert_id, 422, values=values, errors=errors)
    work = registry.refuse_bank_change(session, expert_id, text)
    return await _act(request, session, expert_id, "bank", "bank_refused", work, values)


@router.post(f"{LIST}/{{expert_id:int}}/invitation", response_class=HTMLResponse)
async def resend_invitation(
    request: Request,
    expert_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    admin: AdminPage,
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    work = registry.resend_invitation(session, expert_id, settings)
    return await _act(request, session, expert_id, "invitation", "invitation", work, {})
