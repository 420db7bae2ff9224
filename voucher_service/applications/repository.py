"""Queries on applications; they take the session and hold no business rule."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.applications.models import LIVE_STATUSES, Application, ApplicationStatus


async def get(session: AsyncSession, application_id: int) -> Application | None:
    return await session.get(Application, application_id, populate_existing=True)


async def by_token(session: AsyncSession, token: str) -> Application | None:
    query = select(Application).where(col(Application.status_token) == token)
    return (await session.execute(query)).scalar_one_or_none()


async def live_for(session: AsyncSession, programme_id: int, siren: str) -> Application | None:
    query = select(Application).where(
        col(Application.programme_id) == programme_id,
        col(Application.siren) == siren,
        col(Application.status).in_(LIVE_STATUSES),
    )
    return (await session.execute(query)).scalars().first()


async def has_applied(session: AsyncSession, programme_id: int, siret: str) -> bool:
    """Whether this establishment ever applied to the programme, whatever became of it."""
    query = select(col(Application.id)).where(
        col(Application.programme_id) == programme_id, col(Application.siret) == siret
    )
    return (await session.execute(query.limit(1))).first() is not None


async def has_approved(
    session: AsyncSession, programme_id: int, siren: str, other_than: int | None = None
) -> bool:
    query = select(col(Application.id)).where(
        col(Application.programme_id) == programme_id,
        col(Application.siren) == siren,
        col(Application.status) == ApplicationStatus.approved,
    )
    if other_than is not None:
        query = query.where(col(Application.id) != other_than)
    return (await session.execute(query.limit(1))).first() is not None


async def programmes_of(session: AsyncSession, application_ids: Sequence[int]) -> set[int]:
    query = select(col(Application.programme_id)).where(col(Application.id).in_(application_ids))
    return set((await session.execute(query)).scalars())


async def update_if_status(
    session: AsyncSession,
    application_id: int,
    expected: ApplicationStatus,
    values: dict[str, Any],
) -> Application | None:
    """Apply the values only if the application is still in the expected state: the
    database decides between concurrent changes. None when it was not."""
    statement = (
        update(Application)
        .where(col(Application.id) == application_id, col(Application.status) == expected)
        .values(**values)
        .returning(col(Application.id))
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(statement)).first() is None:
        return None
    return await get(session, application_id)


def _filtered(query: Any, filters: dict[str, Any]) -> Any:
    for name, value in filters.items():
        if value is not None:
            query = query.where(getattr(Application, name) == value)
    return query


async def queue(
    session: AsyncSession, filters: dict[str, Any], page: int, per_page: int
) -> tuple[list[Application], int]:
    """One page of applications, oldest first, and how many match the filters."""
    count = _filtered(select(func.count()).select_from(Application), filters)
    total = int((await session.execute(count)).scalar_one())
    query = _filtered(select(Application), filters).order_by(Application.created_at, Application.id)
    rows = await session.execute(query.offset((page - 1) * per_page).limit(per_page))
    return list(rows.scalars()), total


async def ids_in(session: AsyncSession, statuses: Sequence[ApplicationStatus]) -> list[int]:
    query = (
        select(col(Application.id))
        .where(col(Application.status).in_(statuses))
        .order_by(col(Application.id))
    )
    # Stored ids are NOT NULL; the model's `int | None` is for rows not yet flushed.
    return cast(list[int], [row[0] for row in await session.execute(query)])


async def purgeable(session: AsyncSession, before: datetime) -> list[Application]:
    """Refused applications, last changed before the cutoff, whose personal data remain."""
    query = select(Application).where(
        col(Application.status).in_([ApplicationStatus.rejected, ApplicationStatus.ineligible]),
        col(Application.updated_at) < before,
        col(Application.purged_at).is_(None),
    )
    return list((await session.execute(query.order_by(col(Application.id)))).scalars())


async def departments_and_themes(session: AsyncSession) -> tuple[list[str], list[str]]:
    """The values the queue can be filtered on."""
    departments = await session.execute(
        select(col(Application.department))
        .where(col(Application.department).is_not(None))
        .distinct()
    )
    themes = await session.execute(select(col(Application.theme)).distinct())
    # No NULL department is selected.
    return sorted(cast(str, r[0]) for r in departments), sorted(r[0] for r in themes)


async def by_siret_and_email(session: AsyncSession, siret: str, email: str) -> list[Application]:
    """The applications made for this establishment with this e-mail, oldest first."""
    query = (
        select(Application)
        .where(col(Application.siret) == siret, col(Application.email) == email)
        .order_by(col(Application.id))
    )
    return list((await session.execute(query)).scalars())
