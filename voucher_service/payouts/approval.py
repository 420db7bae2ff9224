"""Four eyes on payments: under the deployment's setting, a draft batch goes to the bank
only once a second admin or accountant, not the one who prepared it, has approved it."""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.core import audit, db
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.context import current_actor
from voucher_service.payouts import repository
from voucher_service.payouts.errors import (
    BatchNotApprovable,
    BatchNotApproved,
    SameApprover,
)
from voucher_service.payouts.models import BatchStatus, PayoutBatch


def awaits_approval(batch: PayoutBatch, settings: Settings) -> bool:
    return (
        settings.payout_approval_required
        and batch.status is BatchStatus.draft
        and batch.approved_at is None
    )


def check_approved(batch: PayoutBatch, settings: Settings) -> None:
    """Refuse to send a draft that still awaits its second person."""
    if awaits_approval(batch, settings):
        raise BatchNotApproved()


def may_approve(batch: PayoutBatch, user_id: int | None) -> bool:
    """Whether this person may approve the batch: a draft not yet approved, prepared by
    someone else (a batch gathered by the system may be approved by anyone)."""
    return (
        batch.status is BatchStatus.draft
        and batch.approved_at is None
        and (batch.prepared_by_id is None or batch.prepared_by_id != user_id)
    )


@db.atomic
async def approve_batch(session: AsyncSession, batch_id: int) -> PayoutBatch:
    """The second person approves a draft: once, by a conditional update, so that two
    approvals at the same moment record one. Approving an approved draft changes nothing."""
    batch = await repository.get_batch(session, batch_id)
    approver = current_actor.get().user_id
    if batch.prepared_by_id is not None and batch.prepared_by_id == approver:
        raise SameApprover()
    if batch.status is not BatchStatus.draft:
        raise BatchNotApprovable(batch_status=batch.status.value)
    if batch.approved_at is not None:
        return batch
    at = utcnow()
    await session.execute(
        update(PayoutBatch)
        .where(
            col(PayoutBatch.id) == batch_id,
            col(PayoutBatch.status) == BatchStatus.draft,
            col(PayoutBatch.approved_at).is_(None),
        )
        .values(approved_by_id=approver, approved_at=at)
    )
    await session.refresh(batch)
    if batch.approved_at != at:
        return await _lost_race(batch)
    audit.record(
        session,
        "payout_batch.approved",
        "payout_batch",
        batch_id,
        before={"approved_by_id": None},
        after={"approved_by_id": approver, "approved_at": at.isoformat()},
    )
    return batch


async def _lost_race(batch: PayoutBatch) -> PayoutBatch:
    """Another approval, or an export or cancellation, moved the draft first."""
    if batch.status is not BatchStatus.draft:
        raise BatchNotApprovable(batch_status=batch.status.value)
    return batch
