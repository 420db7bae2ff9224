"""Administrators' programmes: list with each envelope's gauge, create, edit, change the
envelope, close. Every action is the programme service's use case, as for the API."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from voucher_service.core.auth.dependencies import require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.clock import paris_today
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import ServiceError
from voucher_service.core.formatting import french_date
from voucher_service.programmes import service
from voucher_service.programmes.models import Programme
from voucher_service.programmes.schemas import ProgrammeCreate, ProgrammeUpdate
from voucher_service.vouchers import service as vouchers_service
from voucher_service.web.programme_form import ProgrammeForm, theme_choices
from voucher_service.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[User, Depends(require_page_roles(Role.admin))]
LIST = "/admin/programmes"
DONE = {
    "created": "Le programme est créé.",
    "edited": "Les modifications sont enregistrées.",
    "budget": "L'enveloppe est modifiée.",
    "closed": "Le programme est clôturé : il n'accepte plus de demandes.",
}


def state_label(programme: Programme) -> str:
    """Where the programme stands today, in words."""
    today = paris_today()
    if programme.closed_at is not None:
        return f"Clôturé le {french_date(paris_today(programme.closed_at))}"
    if not programme.has_opened(today):
        return f"Ouvre le {french_date(programme.opens_on)}"
    if programme.is_open(today):
        return f"Ouvert jusqu'au {french_date(programme.closes_on)}"
    return f"Terminé le {french_date(programme.closes_on)}"


async def _checked_form(request: Request) -> FormData:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    return form


@router.get(LIST, response_class=HTMLResponse)
async def programmes_page(request: Request, session: DbSession, admin: AdminPage) -> Response:
    return render(
        request,
        "programmes_admin.html",
        programmes=await service.list_all(session),
        redeemed=await vouchers_service.redeemed_by_programme(session),
        state_label=state_label,
    )


def _new_form(
    request: Request, form: ProgrammeForm, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "programme_new.html",
        status_code=status_code,
        form=form,
        themes=theme_choices(None),
        **context,
    )


@router.get(f"{LIST}/new", response_class=HTMLResponse)
async def new_programme_page(request: Request, admin: AdminPage) -> Response:
    return _new_form(
        request, ProgrammeForm({"cheque_validity_days": 180, "max_de_minimis_eur": 300000})
    )


@router.post(LIST, response_class=HTMLResponse)
async def create_programme(request: Request, session: DbSession, admin: AdminPage) -> Response:
    form = ProgrammeForm()
    body = form.read(await _checked_form(request), ProgrammeCreate)
    if body is None:
        return _new_form(request, form, 422)
    try:
        programme = await service.create(session, body)
    except ServiceError as error:
        return _new_form(request, form, error.status, error=error)
    return RedirectResponse(f"{LIST}/{programme.id}?done=created", status_code=303)


async def _programme_page(
    request: Request,
    session: AsyncSession,
    programme_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    programme = await service.get(session, programme_id)
    context.setdefault("form", ProgrammeForm.of(programme))
    context.setdefault("budget_form", ProgrammeForm.of(programme))
    redeemed = await vouchers_service.redeemed_by_programme(session)
    return render(
        request,
        "programme_admin.html",
        status_code=status_code,
        programme=programme,
        redeemed=redeemed.get(programme_id, 0),
        state=state_label(programme),
        themes=theme_choices(programme),
        done=DONE.get(request.query_params.get("done", "")),
        **context,
    )


@router.get(f"{LIST}/{{programme_id:int}}", response_class=HTMLResponse)
async def programme_page(
    request: Request, programme_id: EntityId, session: DbSession, admin: AdminPage
) -> Response:
    return await _programme_page(request, session, programme_id)


async def _change(
    request: Request,
    session: AsyncSession,
    programme_id: int,
    form: ProgrammeForm,
    body: ProgrammeUpdate | None,
    which: str,
) -> Response:
    """Edit through the service; its refusal is shown beside the form it came from."""
    forms = {"form" if which == "edited" else "budget_form": form}
    if body is None:
        return await _programme_page(request, session, programme_id, 422, **forms)
    try:
        await service.edit(session, programme_id, body)
    except ValidationError as error:
        form.refused(error)
        return await _programme_page(request, session, programme_id, 422, **forms)
    except ServiceError as error:
        return await _programme_page(
            request, session, programme_id, error.status, error=error, error_form=which, **forms
        )
    return RedirectResponse(f"{LIST}/{programme_id}?done={which}", status_code=303)


@router.post(f"{LIST}/{{programme_id:int}}", response_class=HTMLResponse)
async def edit_programme(
    request: Request, programme_id: EntityId, session: DbSession, admin: AdminPage
) -> Response:
    form = ProgrammeForm()
    body = form.read(await _checked_form(request), ProgrammeUpdate, skip=("budget",))
    return await _change(request, session, programme_id, form, body, "edited")


@router.post(f"{LIST}/{{programme_id:int}}/budget", response_class=HTMLResponse)
async def change_budget(
    request: Request, programme_id: EntityId, session: DbSession, admin: AdminPage
) -> Response:
    form = ProgrammeForm()
    typed = await _checked_form(request)
    form.values = {"budget": str(typed.get("budget", "")).strip()}
    cents = form.cents("budget")
    body = None if cents is None else ProgrammeUpdate(budget_cents=cents)
    return await _change(request, session, programme_id, form, body, "budget")


@router.post(f"{LIST}/{{programme_id:int}}/close", response_class=HTMLResponse)
async def close_programme(
    request: Request, programme_id: EntityId, session: DbSession, admin: AdminPage
) -> Response:
    await _checked_form(request)
    try:
        await service.close(session, programme_id)
    except ServiceError as error:
        return await _programme_page(
            request, session, programme_id, error.status, error=error, error_form="closed"
        )
    return RedirectResponse(f"{LIST}/{programme_id}?done=closed", status_code=303)
