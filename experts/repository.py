"""The experts domain's queries: they take the session and decide nothing."""

from datetime import datetime

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import (
    AccreditationChange,
    Expert,
    Invitation,
    PayoutState,
    Redemption,
    RedemptionAttempt,
    RedemptionStatus,
)
from experts.schemas import ExpertFilters
from voucher_service.core.auth.models import User
from voucher_service.vouchers.models import Voucher

LISTED_REDEMPTIONS = 200


async def expert_of(
    session: AsyncSession, user_id: int | None, *, locked: bool = False
) -> Expert | None:
    """The user's expert; ``locked`` takes its row lock (``FOR NO KEY UPDATE``) until the
    end of the transaction."""
    query = select(Expert).where(col(Expert.user_id) == user_id)
    if locked:
        query = query.with_for_update(key_share=True)
    return (await session.execute(query)).scalar_one_or_none()


def _listed(value: str) -> str:
    """LIKE pattern of a JSON list holding this item (themes and départements are plain
    slugs and codes: no quote, percent or underscore to escape)."""
    return f'%"{value}"%'


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(filters: ExpertFilters) -> Select[Expert]:
    query = select(Expert)
    if filters.status is not None:
        query = query.where(col(Expert.status) == filters.status)
    if filters.theme:
        query = query.where(cast(col(Expert.themes), String).like(_listed(filters.theme)))
    if filters.department:
        query = query.where(cast(col(Expert.departments), String).like(_listed(filters.department)))
    if filters.q and (text := filters.q.strip()):
        pattern, siret = _contains(text), _contains(text.replace(" ", ""))
        query = query.where(
            or_(
                col(Expert.legal_name).ilike(pattern, escape="\\"),
                col(Expert.contact_name).ilike(pattern, escape="\\"),
                col(Expert.email).ilike(pattern, escape="\\"),
                col(Expert.siret).like(siret, escape="\\"),
            )
        )
    return query


async def experts(
    session: AsyncSession, filters: ExpertFilters, offset: int = 0, limit: int | None = None
) -> tuple[list[Expert], int]:
    """The matching experts by name (``limit`` of them from ``offset``), and how many match."""
    query = _matching(filters)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    page = query.order_by(col(Expert.legal_name), col(Expert.id)).offset(offset).limit(limit)
    return list((await session.execute(page)).scalars()), int(total or 0)


async def themes_and_departments(session: AsyncSession) -> list[tuple[list[str], list[str]]]:
    query = select(col(Expert.themes), col(Expert.departments))
    return [(themes, departments) for themes, departments in (await session.execute(query)).all()]


async def accreditation_changes(session: AsyncSession, expert_id: int) -> list[AccreditationChange]:
    query = (
        select(AccreditationChange)
        .where(col(AccreditationChange.expert_id) == expert_id)
        .order_by(col(AccreditationChange.id))
    )
    return list((await session.execute(query)).scalars())


async def changes_with_deciders(
    session: AsyncSession, expert_id: int
) -> list[tuple[AccreditationChange, str | None]]:
    """The accreditation history, the newest first, with the e-mail of who decided."""
    query = (
        select(AccreditationChange, col(User.email))
        .outerjoin(User, col(User.id) == col(AccreditationChange.decided_by))
        .where(col(AccreditationChange.expert_id) == expert_id)
        .order_by(col(AccreditationChange.id).desc())
    )
    return [(change, email) for change, email in (await session.execute(query)).all()]


async def redemption_totals(
    session: AsyncSession, expert_id: int
) -> list[tuple[RedemptionStatus, PayoutState, int, int]]:
    """(status, payout state, how many, cents) of the expert's redemptions."""
    query = (
        select(
            col(Redemption.status),
            col(Redemption.payout_state),
            func.count(),
            func.coalesce(func.sum(col(Redemption.amount_cents)), 0),
        )
        .where(col(Redemption.expert_id) == expert_id)
        .group_by(col(Redemption.status), col(Redemption.payout_state))
    )
    return [(s, p, int(n), int(c)) for s, p, n, c in (await session.execute(query)).all()]


async def unused_invitations(session: AsyncSession, user_id: int) -> list[Invitation]:
    query = select(Invitation).where(
        col(Invitation.user_id) == user_id, col(Invitation.used_at).is_(None)
    )
    return list((await session.execute(query)).scalars())


def usable_invitation(token_hash: str, now: datetime) -> Select[Invitation]:
    return select(Invitation).where(
        col(Invitation.token_hash) == token_hash,
        col(Invitation.used_at).is_(None),
        col(Invitation.expires_at) >= now,
    )


async def nth_latest_refusal(
    session: AsyncSession, expert_id: int | None, since: datetime, n: int
) -> datetime | None:
    """When the expert's n-th most recent refused attempt since then happened, if any."""
    query = (
        select(col(RedemptionAttempt.attempted_at))
        .where(
            col(RedemptionAttempt.expert_id) == expert_id,
            col(RedemptionAttempt.attempted_at) >= since,
        )
        .order_by(col(RedemptionAttempt.attempted_at).desc())
        .offset(n - 1)
        .limit(1)
    )
    return await session.scalar(query)


async def has_another_experts_redemption(
    session: AsyncSession, voucher_id: int, expert_id: int
) -> bool:
    query = select(col(Redemption.id)).where(
        col(Redemption.voucher_id) == voucher_id,
        col(Redemption.expert_id) != expert_id,
        col(Redemption.status) == RedemptionStatus.active,
    )
    return (await session.execute(query)).first() is not None


async def locked_redemption(session: AsyncSession, redemption_id: int) -> Redemption | None:
    """The redemption as the database has it now, under its row lock."""
    query = (
        select(Redemption)
        .where(col(Redemption.id) == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


def _with_vouchers(expert_id: int | None) -> Select[Redemption, Voucher]:
    return (
        select(Redemption, Voucher)
        .join(Voucher, col(Voucher.id) == col(Redemption.voucher_id))
        .where(col(Redemption.expert_id) == expert_id)
    )


async def redemption_of(
    session: AsyncSession, expert_id: int | None, redemption_id: int
) -> tuple[Redemption, Voucher] | None:
    query = _with_vouchers(expert_id).where(col(Redemption.id) == redemption_id)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def latest_redemptions(
    session: AsyncSession, expert_id: int | None
) -> list[tuple[Redemption, Voucher]]:
    """The expert's latest redemptions (200 at most), the newest first."""
    query = (
        _with_vouchers(expert_id)
        .order_by(col(Redemption.redeemed_at).desc())
        .limit(LISTED_REDEMPTIONS)
    )
    return [(r, v) for r, v in (await session.execute(query)).all()]
