"""The expert's pages: what the QR opens (confirm a redemption), the expert's home (scan,
type a code, own redemptions with undo) and the invitation that sets a password."""

import secrets
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from experts import listing, redemption, registry
from experts.errors import InvitationInvalid
from experts.models import (
    Expert,
    PayoutState,
    RedemptionStatus,
)
from experts.schemas import RedemptionCreate, VoucherCheck
from voucher_service.core.auth.dependencies import AppSettings, require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import ServiceError
from voucher_service.core.formatting import parse_euros
from voucher_service.vouchers.errors import InvalidToken
from voucher_service.web.new_password import NewPasswordForm
from voucher_service.web.rendering import check_csrf, render, templates

router = APIRouter(include_in_schema=False)
PageExpert = Annotated[User, Depends(require_page_roles(Role.expert))]

MAX_PRESENTED = 2048
VOUCHER_STATUS_LABELS = {
    "issued": "Valable",
    "partially_redeemed": "Utilisé en partie",
    "redeemed": "Déjà utilisé",
    "paid": "Déjà utilisé et payé",
    "expired": "Expiré",
    "cancelled": "Annulé",
}
PAYOUT_LABELS = {
    PayoutState.unpaid: "À payer",
    PayoutState.batched: "Virement en préparation",
    PayoutState.paid: "Payé",
}
templates.env.globals.update(
    VOUCHER_STATUS_LABELS=VOUCHER_STATUS_LABELS,
    ACCREDITATION_LABELS=registry.ACCREDITATION_LABELS,
    PAYOUT_LABELS=PAYOUT_LABELS,
)


def _amount_text(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def _redeem_page(
    request: Request,
    token: str,
    expert: Expert,
    cheque: VoucherCheck | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    problem: ServiceError | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "redeem.html",
        status_code=status_code,
        token=token,
        action=f"/r/{quote(token, safe='')}",
        expert=expert,
        can_redeem=registry.can_redeem(expert),
        cheque=cheque,
        values=values,
        errors=errors or {},
        problem=problem,
        today=paris_today(),
        # One key per displayed form: a double tap or a resent form shows the first answer.
        submission=secrets.token_urlsafe(18),
    )


async def _check_or_none(
    session: DbSession, expert: Expert, token: str, settings: Settings
) -> tuple[VoucherCheck | None, ServiceError | None]:
    if not 4 <= len(token) <= MAX_PRESENTED:
        return None, _unreadable()
    try:
        return await redemption.check(session, expert, token, settings), None
    except ServiceError as error:
        return None, error


def _beside_fields(error: ServiceError) -> dict[str, str]:
    """The service's messages about single fields (``errors`` with a ``loc``), by field."""
    return {str(e["loc"][-1]): e["msg"] for e in error.extra.get("errors", [])}


def _unreadable() -> ServiceError:
    return InvalidToken("Ce lien ou ce code ne correspond à aucun chèque.")


@router.get("/r", response_class=HTMLResponse)
async def typed_code(
    expert_user: PageExpert, code: Annotated[str, Query(max_length=MAX_PRESENTED)] = ""
) -> Response:
    """The typed-code form on /expert: on to the cheque's page, as if it had been scanned."""
    code = code.strip()
    if not code:
        return RedirectResponse("/expert?code=vide", status_code=303)
    return RedirectResponse(f"/r/{quote(code, safe='')}", status_code=303)


@router.get("/r/{token}", response_class=HTMLResponse)
async def redeem_form(
    request: Request, token: str, session: DbSession, settings: AppSettings, user: PageExpert
) -> Response:
    expert = await registry.for_user(session, user)
    cheque, problem = await _check_or_none(session, expert, token, settings)
    values = {
        "amount": _amount_text(cheque.balance_cents) if cheque else "",
        "coaching_date": paris_today().isoformat(),
        "invoice_reference": "",
    }
    status = problem.status if problem else 200
    return _redeem_page(request, token, expert, cheque, values, problem=problem, status_code=status)


def _validated(
    token: str, values: dict[str, str]
) -> tuple[RedemptionCreate | None, dict[str, str]]:
    errors: dict[str, str] = {}
    amount: int | None = None
    try:
        amount = parse_euros(values["amount"])
    except ValueError as error:
        errors["amount"] = str(error)
    try:
        date.fromisoformat(values["coaching_date"])
    except ValueError:
        errors["coaching_date"] = "Indiquez la date de l'accompagnement (jj/mm/aaaa)."
    reference = values["invoice_reference"].strip()
    if not reference:
        errors["invoice_reference"] = "Indiquez la référence de votre facture."
    elif len(reference) > 64:
        errors["invoice_reference"] = "La référence de facture tient en 64 caractères au plus."
    if errors:
        return None, errors
    try:
        body = RedemptionCreate(
            token=token,
            amount_cents=amount,
            coaching_date=values["coaching_date"],
            invoice_reference=reference,
        )
    except ValidationError:
        return None, {"amount": "Montant invalide (au plus 100 000,00 €)."}
    return body, {}


@router.post("/r/{token}", response_class=HTMLResponse)
async def redeem(
    request: Request,
    token: str,
    session: DbSession,
    settings: AppSettings,
    user: PageExpert,
    amount: Annotated[str, Form(max_length=40)] = "",
    coaching_date: Annotated[str, Form(max_length=20)] = "",
    invoice_reference: Annotated[str, Form(max_length=200)] = "",
    submission: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    expert = await registry.for_user(session, user)
    assert expert.id is not None and user.id is not None
    values = {
        "amount": amount,
        "coaching_date": coaching_date,
        "invoice_reference": invoice_reference,
    }
    body, errors = _validated(token, values)
    if body is None or not 4 <= len(token) <= MAX_PRESENTED:
        cheque, problem = await _check_or_none(session, expert, token, settings)
        return _redeem_page(
            request, token, expert, cheque, values, errors, problem, status_code=422
        )
    key = f"page-redeem:{submission}" if submission else None
    try:
        answer = await redemption.redeem_once(session, user, body, settings, key)
    except ServiceError as error:
        return await _refused(request, session, settings, expert, token, values, error)
    return RedirectResponse(f"/expert/redemptions/{answer.body['id']}", status_code=303)


async def _refused(
    request: Request,
    session: DbSession,
    settings: Settings,
    expert: Expert,
    token: str,
    values: dict[str, str],
    error: ServiceError,
) -> Response:
    """The form again, with the service's reason beside its field or above the form."""
    cheque, _problem = await _check_or_none(session, expert, token, settings)
    beside = _beside_fields(error)
    problem = None if beside else error
    response = _redeem_page(
        request, token, expert, cheque, values, beside, problem, status_code=error.status
    )
    response.headers.update(error.headers)
    return response


@router.get("/expert/redemptions/{redemption_id}", response_class=HTMLResponse)
async def receipt(
    request: Request,
    redemption_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    user: PageExpert,
) -> Response:
    expert = await registry.for_user(session, user)
    row, voucher = await redemption.own(session, expert, redemption_id)
    return render(
        request,
        "redeemed.html",
        redemption=row,
        voucher=voucher,
        cancel_until=redemption.cancel_until(row, settings),
        cancellable=redemption.why_not_cancellable(row, settings) is None,
    )


async def _home(
    request: Request,
    session: DbSession,
    settings: Settings,
    expert: Expert,
    problem: ServiceError | None = None,
    status_code: int = 200,
) -> Response:
    rows = await redemption.list_for(session, expert)
    items: list[dict[str, Any]] = [
        {
            "redemption": row,
            "voucher": voucher,
            "cancel_until": redemption.cancel_until(row, settings),
            "cancellable": redemption.why_not_cancellable(row, settings) is None,
        }
        for row, voucher in rows
    ]
    totals = {state: 0 for state in PayoutState}
    for row, _voucher in rows:
        if row.status is RedemptionStatus.active:
            totals[row.payout_state] += row.amount_cents
    return render(
        request,
        "expert.html",
        totals=totals,
        status_code=status_code,
        expert=expert,
        can_redeem=registry.can_redeem(expert),
        suspension_reason=await listing.suspension_reason(session, expert),
        items=items,
        problem=problem,
        undone=request.query_params.get("annule"),
        empty_code=request.query_params.get("code") == "vide",
    )


@router.get("/expert", response_class=HTMLResponse)
async def expert_home(
    request: Request, session: DbSession, settings: AppSettings, user: PageExpert
) -> Response:
    return await _home(request, session, settings, await registry.for_user(session, user))


@router.post("/expert/redemptions/{redemption_id}/cancel", response_class=HTMLResponse)
async def undo(
    request: Request,
    redemption_id: EntityId,
    session: DbSession,
    settings: AppSettings,
    user: PageExpert,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    expert = await registry.for_user(session, user)
    try:
        _, voucher = await redemption.cancel(session, expert, redemption_id, settings)
    except ServiceError as error:
        return await _home(request, session, settings, expert, error, error.status)
    return RedirectResponse(f"/expert?annule={quote(voucher.code)}", status_code=303)


@router.get("/invitation/{token}", response_class=HTMLResponse)
async def invitation_form(request: Request, token: str, session: DbSession) -> Response:
    """An expired or used link says so at once, before the expert types anything."""
    if not await registry.invitation_usable(session, token):
        error = InvitationInvalid()
        return render(
            request,
            "invitation.html",
            status_code=error.status,
            token=token,
            errors={},
            problem=error,
        )
    return render(request, "invitation.html", token=token, errors={})


@router.post("/invitation/{token}", response_class=HTMLResponse)
async def accept_invitation(
    request: Request, token: str, session: DbSession, form: NewPasswordForm
) -> Response:
    if form.errors:
        return render(request, "invitation.html", status_code=422, token=token, errors=form.errors)
    try:
        await registry.accept_invitation(session, token, form.password)
    except InvitationInvalid as error:
        return render(
            request,
            "invitation.html",
            status_code=error.status,
            token=token,
            errors={},
            problem=error,
        )
    return RedirectResponse("/login?invitation=ok&next=/expert", status_code=303)
