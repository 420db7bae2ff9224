"""The experts domain's queries: they take the session and decide nothing."""

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import (
    Accreditation,
    AccreditationChange,
    Expert,
    Invitation,
    Redemption,
    RedemptionAttempt,
    RedemptionStatus,
)
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


async def experts(session: AsyncSession, status: Accreditation | None) -> list[Expert]:
    query = select(Expert).order_by(Expert.legal_name)
    if status is not None:
        query = query.where(col(Expert.status) == status)
    return list((await session.execute(query)).scalars())


async def accreditation_changes(session: AsyncSession, expert_id: int) -> list[AccreditationChange]:
    query = (
        select(AccreditationChange)
        .where(col(AccreditationChange.expert_id) == expert_id)
        .order_by(col(AccreditationChange.id))
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
