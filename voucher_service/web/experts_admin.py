"""Administrators' experts: the filtered list, registering one (it gets its invitation by
e-mail) and an expert's page (history, redemptions, bank details and the actions of
web/expert_decisions.py). Every action is a use case of experts/, as for the API."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from experts import listing, registry
from experts.models import Accreditation
from experts.schemas import ExpertCreate, ExpertFilters
from voucher_service.applications.eligibility import THEME_LABELS
from voucher_service.core.auth.dependencies import AppSettings, require_page_roles
from voucher_service.core.auth.models import Role, User
from voucher_service.core.db import DbSession, EntityId
from voucher_service.core.errors import ServiceError
from voucher_service.programmes.labels import DEPARTMENT_NAMES
from voucher_service.web.rendering import check_csrf, render, templates

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[User, Depends(require_page_roles(Role.admin))]
Csrf = Annotated[str, Form()]
LIST = "/admin/experts"
PER_PAGE = 25
FILTERS = ("status", "theme", "department", "q")
TEXT_FIELDS = ("name", "contact_name", "email", "phone", "siret", "iban", "bic")
FIELD_MESSAGES = {
    "name": "Indiquez la raison sociale de l'expert (2 à 200 caractères).",
    "contact_name": "Le nom de la personne à contacter tient en 200 caractères au plus.",
    "email": "Indiquez une adresse e-mail valide, par exemple contact@cabinet-conseil.fr.",
    "phone": "Le téléphone tient en 20 caractères au plus.",
    "siret": "Ce SIRET n'existe pas : vérifiez ses 14 chiffres.",
    "iban": "Cet IBAN n'est pas valide, ou n'est pas d'un pays de la zone SEPA.",
    "bic": "Ce BIC n'est pas valide (8 ou 11 caractères, par exemple AGRIFRPP).",
    "themes": "Cochez au moins une thématique.",
    "departments": "Cochez des départements de la liste.",
}


def masked_iban(iban: str | None) -> str:
    """Only the last 4 characters of an IBAN are shown: FR•• •••• … 0189."""
    if not iban:
        return ""
    return f"{iban[:2]}•• •••• •••• {iban[-4:]}"


templates.env.filters.update(masked_iban=masked_iban)


def _filters(request: Request) -> ExpertFilters:
    """The list's filters from the address; a filter that makes no sense is left out."""
    given = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    kept: dict[str, str] = {}
    for name, value in given.items():
        try:
            ExpertFilters.model_validate({name: value})
        except ValidationError:
            continue
        if value:
            kept[name] = value
    return ExpertFilters.model_validate(kept)


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return max(1, min(int(text), 10_000)) if text.isdigit() else 1


@router.get(LIST, response_class=HTMLResponse)
async def experts_page(request: Request, session: DbSession, admin: AdminPage) -> Response:
    filters, page = _filters(request), _page_number(request)
    experts, total = await listing.search(session, filters, page, PER_PAGE)
    themes, departments = await listing.filter_choices(session)
    query = {k: v for k, v in filters.model_dump(mode="json").items() if v}
    return render(
        request,
        "experts_admin.html",
        experts=experts,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        filters=filters,
        query=query,
        themes=themes,
        departments=departments,
    )


def _new_form(request: Request, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render(
        request,
        "expert_new.html",
        status_code=status_code,
        themes=THEME_LABELS,
        departments=DEPARTMENT_NAMES,
        **context,
    )


@router.get(f"{LIST}/new", response_class=HTMLResponse)
async def new_expert_page(request: Request, admin: AdminPage) -> Response:
    return _new_form(request)


def _field_errors(error: ValidationError) -> dict[str, str]:
    names = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
    return {name: text for name, text in FIELD_MESSAGES.items() if name in names}


@router.post(LIST, response_class=HTMLResponse)
async def register_expert(
    request: Request, session: DbSession, settings: AppSettings, admin: AdminPage
) -> Response:
    """The same use case as POST /api/v1/experts, without a password: an invitation."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    values: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
    values["themes"] = [str(v) for v in form.getlist("themes")]
    values["departments"] = [str(v) for v in form.getlist("departments")]
    body = {**values, "phone": values["phone"] or None}
    try:
        expert_body = ExpertCreate.model_validate(body)
    except ValidationError as error:
        return _new_form(request, 422, values=values, errors=_field_errors(error))
    try:
        expert, _token = await registry.register(session, expert_body, settings)
    except ServiceError as error:
        return _new_form(request, error.status, values=values, error=error)
    return RedirectResponse(f"{LIST}/{expert.id}?done=registered", status_code=303)


DONE = {
    "registered": "L'expert est enregistré : son invitation à choisir un mot de passe vient "
    "de lui être envoyée par e-mail.",
    "accredited": "L'expert est accrédité : il en est informé par e-mail, avec la raison.",
    "suspended": "L'accréditation est suspendue : l'expert en est informé par e-mail, avec la "
    "raison.",
    "revoked": "L'accréditation est retirée, définitivement : l'expert en est informé par "
    "e-mail, avec la raison.",
    "bank_confirmed": "Les nouvelles coordonnées bancaires sont confirmées : les prochains "
    "virements les utiliseront.",
    "bank_refused": "Les nouvelles coordonnées bancaires sont refusées : l'expert en est "
    "informé par e-mail, avec la raison.",
    "invitation": "Une nouvelle invitation vient d'être envoyée par e-mail ; les liens "
    "envoyés avant ne fonctionnent plus.",
}


async def detail_page(
    request: Request, session: AsyncSession, expert_id: int, status_code: int = 200, **context: Any
) -> Response:
    """The expert's page; ``context`` carries a refused action's typed text and reason."""
    expert = await registry.get(session, expert_id)
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render(
        request,
        "expert_admin.html",
        status_code=status_code,
        expert=expert,
        decisions=await listing.decisions(session, expert_id),
        summary=await listing.redemptions_summary(session, expert_id),
        allowed={to for to, since in registry.ALLOWED.items() if expert.status in since},
        Accreditation=Accreditation,
        invitation_pending=await registry.invitation_pending(session, expert),
        done=DONE.get(request.query_params.get("done", "")),
        **context,
    )


@router.get(f"{LIST}/{{expert_id:int}}", response_class=HTMLResponse)
async def expert_page(
    request: Request, expert_id: EntityId, session: DbSession, admin: AdminPage
) -> Response:
    return await detail_page(request, session, expert_id)
