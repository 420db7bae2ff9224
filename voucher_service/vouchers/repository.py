"""Queries on cheques and their history; the rules live in service.py."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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
        .where(Voucher.id.in_(voucher_ids))  # type: ignore[union-attr]
        .order_by(Voucher.id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(query)).scalars())


async def for_application(session: AsyncSession, application_id: int) -> Voucher | None:
    query = select(Voucher).where(Voucher.application_id == application_id)
    return (await session.execute(query)).scalar_one_or_none()


async def with_programme(
    session: AsyncSession, criterion: ColumnElement[bool]
) -> tuple[Voucher, Programme] | None:
    """One cheque and its programme, read in one statement."""
    query = (
        select(Voucher, Programme)
        .join(Programme, Programme.id == Voucher.programme_id)  # type: ignore[arg-type]
        .where(criterion)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


def seen_with_status(status: VoucherStatus, today: date) -> ColumnElement[bool]:
    """Cheques whose status, as people see it today, is ``status`` (see Voucher.status_on)."""
    spendable = Voucher.status.in_(SPENDABLE)  # type: ignore[attr-defined]
    if status is VoucherStatus.expired:
        return or_(
            Voucher.status == VoucherStatus.expired,
            and_(spendable, Voucher.valid_until < today),
        )
    if status in SPENDABLE:
        return and_(Voucher.status == status, Voucher.valid_until >= today)
    return Voucher.status == status


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
        .order_by(Voucher.issued_at.desc(), Voucher.id.desc())  # type: ignore[attr-defined,union-attr]
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars()), int(total)


async def history(session: AsyncSession, voucher_id: int) -> list[VoucherEvent]:
    query = (
        select(VoucherEvent).where(VoucherEvent.voucher_id == voucher_id).order_by(VoucherEvent.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(query)).scalars())
