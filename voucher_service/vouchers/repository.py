"""Queries on cheques and their history; the rules live in service.py."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.programmes.models import Programme
from voucher_service.vouchers.models import SPENDABLE, Voucher, VoucherEvent, VoucherStatus


async def get(session: AsyncSession, voucher_id: int, *, fresh: bool = False) -> Voucher | None:
    """One cheque; ``fresh`` re-reads it after a bulk UPDATE changed the row."""
    options: dict[str, Any] = {"populate_existing": True} if fresh else {}
    return await session.get(Voucher, voucher_id, **options)


async def many(session: AsyncSession, voucher_ids: Sequence[int]) -> list[Voucher]:
    """Those cheques, read again from the database, in id order."""
    if not voucher_ids:
        return []
    query = (
        select(Voucher)
        .where(col(Voucher.id).in_(voucher_ids))
        .order_by(col(Voucher.id))
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(query)).scalars())


async def for_application(session: AsyncSession, application_id: int) -> Voucher | None:
    query = select(Voucher).where(col(Voucher.application_id) == application_id)
    return (await session.execute(query)).scalar_one_or_none()


async def with_programme(
    session: AsyncSession, criterion: ColumnElement[bool]
) -> tuple[Voucher, Programme] | None:
    """One cheque and its programme, read in one statement."""
    query = (
        select(Voucher, Programme)
        .join(Programme, col(Programme.id) == col(Voucher.programme_id))
        .where(criterion)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


def seen_with_status(status: VoucherStatus, today: date) -> ColumnElement[bool]:
    """Cheques whose status, as people see it today, is ``status`` (see Voucher.status_on)."""
    spendable = col(Voucher.status).in_(SPENDABLE)
    if status is VoucherStatus.expired:
        return or_(
            col(Voucher.status) == VoucherStatus.expired,
            and_(spendable, col(Voucher.valid_until) < today),
        )
    if status in SPENDABLE:
        return and_(col(Voucher.status) == status, col(Voucher.valid_until) >= today)
    return col(Voucher.status) == status


async def page(
    session: AsyncSession,
    filters: Sequence[ColumnElement[bool]],
    offset: int,
    limit: int,
) -> tuple[list[Voucher], int]:
    """One page of cheques, newest first, and how many match in all."""
    count = select(func.count()).select_from(Voucher).where(*filters)
    total = (await session.execute(count)).scalar_one()
    query = (
        select(Voucher)
        .where(*filters)
        .order_by(col(Voucher.issued_at).desc(), col(Voucher.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars()), int(total)


async def history(session: AsyncSession, voucher_id: int) -> list[VoucherEvent]:
    query = (
        select(VoucherEvent)
        .where(col(VoucherEvent.voucher_id) == voucher_id)
        .order_by(col(VoucherEvent.id))
    )
    return list((await session.execute(query)).scalars())


async def redeemed_by_programme(session: AsyncSession) -> dict[int, int]:
    """Cents redeemed from each programme's cheques (what a cancelled or expired cheque gave
    back is its balance, so amount minus balance is what was used, whatever its state)."""
    used = func.sum(col(Voucher.amount_cents) - col(Voucher.balance_cents))
    query = select(col(Voucher.programme_id), used).group_by(col(Voucher.programme_id))
    return {programme_id: int(total or 0) for programme_id, total in await session.execute(query)}


def matching(
    company_part: str, code_part: str | None, siret_start: str | None
) -> ColumnElement[bool]:
    """Cheques whose company's name holds ``company_part`` (case aside), whose code without
    its dashes holds ``code_part``, or whose SIRET starts with ``siret_start``. SQLite folds
    the case of ASCII letters only: the name is also looked for all in lower case and all
    in upper case, so that « numÉriques » typed finds « Numériques » there too."""
    name = col(Voucher.company_name)
    variants = {company_part.lower(), company_part.upper()}
    options = [name.icontains(variant, autoescape=True) for variant in sorted(variants)]
    if code_part:
        compact_code = func.replace(col(Voucher.code), "-", "")
        options.append(compact_code.contains(code_part, autoescape=True))
    if siret_start:
        options.append(col(Voucher.siret).startswith(siret_start, autoescape=True))
    return or_(*options)
