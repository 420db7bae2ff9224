"""Cheques for administrators and accountants, and the public keys that verify them."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core.auth.dependencies import AccountantUser, AdminUser, AppSettings
from voucher_service.core.clock import paris_today
from voucher_service.core.db import DbSession
from voucher_service.core.errors import Forbidden, Unauthorized, problem_responses
from voucher_service.core.pagination import IdFilter, PageNumber, PerPage
from voucher_service.vouchers import history, keys, service
from voucher_service.vouchers.errors import (
    InvalidToken,
    UnknownSigningKey,
    VoucherNotCancellable,
    VoucherNotFound,
)
from voucher_service.vouchers.models import Voucher, VoucherStatus
from voucher_service.vouchers.schemas import (
    JsonWebKey,
    JsonWebKeySet,
    VoucherCancel,
    VoucherPage,
    VoucherPublic,
    VoucherSummary,
)

router = APIRouter(prefix="/api/v1/vouchers", tags=["vouchers"])
keys_router = APIRouter(tags=["vouchers"])
AUTH = (Unauthorized, Forbidden)
LOOKUP = (InvalidToken, UnknownSigningKey, VoucherNotFound)
SearchText = Annotated[
    str | None,
    Query(
        max_length=100,
        description=(
            "Part of the cheque's code (case, spaces, dashes and the MCD prefix do not "
            "matter), the start of its SIRET (or the SIREN), or part of the company's name"
        ),
    ),
]
CODE_DESCRIPTION = (
    "The cheque's code as printed or typed (case, spaces and dashes do not matter), or its token"
)


async def _public(session: AsyncSession, voucher: Voucher) -> VoucherPublic:
    assert voucher.id is not None
    fields = VoucherSummary.fields_of(voucher, paris_today())
    events = await history.events(session, voucher.id)
    return VoucherPublic.model_validate({**fields, "history": events}, from_attributes=True)


@router.get("", summary="List cheques, newest first", responses=problem_responses(*AUTH))
async def list_vouchers(
    session: DbSession,
    user: AccountantUser,
    status: VoucherStatus | None = None,
    programme_id: IdFilter = None,
    q: SearchText = None,
    page: PageNumber = 1,
    page_size: PerPage = 50,
) -> VoucherPage:
    today = paris_today()
    vouchers, total = await service.list_vouchers(
        session,
        today,
        status=status,
        programme_id=programme_id,
        search=q,
        page=page,
        page_size=page_size,
    )
    items = [VoucherSummary.of(voucher, today) for voucher in vouchers]
    return VoucherPage(items=items, total=total, page=page, page_size=page_size)


@router.get(
    "/{code}",
    summary="One cheque with its token and history",
    description=CODE_DESCRIPTION,
    responses=problem_responses(*AUTH, *LOOKUP),
)
async def get_voucher(
    code: str, session: DbSession, settings: AppSettings, user: AccountantUser
) -> VoucherPublic:
    return await _public(session, await service.resolve(session, code, settings))


@router.post(
    "/{code}/cancel",
    summary="Cancel a cheque; its unredeemed amount goes back to the envelope",
    description=CODE_DESCRIPTION,
    responses=problem_responses(*AUTH, *LOOKUP, VoucherNotCancellable),
)
async def cancel_voucher(
    code: str, body: VoucherCancel, session: DbSession, settings: AppSettings, admin: AdminUser
) -> VoucherPublic:
    voucher = await service.resolve(session, code, settings)
    assert voucher.id is not None
    return await _public(session, await service.cancel(session, voucher.id, body.reason))


@router.get(
    "/{code}/pdf",
    summary="The cheque as a PDF (A4, French)",
    description=CODE_DESCRIPTION,
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The cheque"},
        **problem_responses(*AUTH, *LOOKUP),
    },
)
async def voucher_pdf(
    code: str, session: DbSession, settings: AppSettings, admin: AdminUser
) -> Response:
    voucher, programme = await service.resolve_with_programme(session, code, settings)
    content = await service.render_pdf(voucher, programme, settings)
    disposition = f'inline; filename="cheque-{voucher.code}.pdf"'
    return Response(
        content, media_type="application/pdf", headers={"Content-Disposition": disposition}
    )


@keys_router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify cheque tokens offline (RFC 8037 OKP, EdDSA)",
)
async def jwks(session: DbSession, response: Response) -> JsonWebKeySet:
    response.headers["Cache-Control"] = "public, max-age=300"
    published = await keys.published(session)
    return JsonWebKeySet(keys=[JsonWebKey.model_validate(keys.jwk(key)) for key in published])
