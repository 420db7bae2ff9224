"""Queries on the notes and exchanges of applications; no business rule."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.applications.models import ApplicationExchange, ApplicationNote
from voucher_service.core.auth.models import User


async def add(session: AsyncSession, row: ApplicationNote | ApplicationExchange) -> None:
    session.add(row)
    await session.flush()


async def notes_of(session: AsyncSession, application_id: int) -> list[tuple[ApplicationNote, str]]:
    """The application's notes, oldest first, each with its author's e-mail."""
    query = (
        select(ApplicationNote, col(User.email))
        .join(User, col(User.id) == col(ApplicationNote.author_id))
        .where(col(ApplicationNote.application_id) == application_id)
        .order_by(col(ApplicationNote.id))
    )
    return [(note, email) for note, email in (await session.execute(query)).all()]


async def exchanges_of(
    session: AsyncSession, application_id: int
) -> list[tuple[ApplicationExchange, str | None]]:
    """The application's exchanges, oldest first, each with its staff author's e-mail
    (None for the applicant's answers)."""
    query = (
        select(ApplicationExchange, col(User.email))
        .outerjoin(User, col(User.id) == col(ApplicationExchange.author_id))
        .where(col(ApplicationExchange.application_id) == application_id)
        .order_by(col(ApplicationExchange.id))
    )
    return [(row, email) for row, email in (await session.execute(query)).all()]


async def latest_exchanges(
    session: AsyncSession, application_ids: Sequence[int]
) -> dict[int, ApplicationExchange]:
    """The latest exchange of each of these applications that has one."""
    query = (
        select(ApplicationExchange)
        .where(col(ApplicationExchange.application_id).in_(application_ids))
        .order_by(col(ApplicationExchange.id))
    )
    return {row.application_id: row for row in (await session.execute(query)).scalars()}
