"""What the experts domain lets other domains ask and do: payouts reads the redemptions it
may pay and moves their payout state only through here (``from experts import service as
experts_service``)."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts import registry
from experts.models import Expert, PayoutState, Redemption, RedemptionStatus
from voucher_service.vouchers.models import Voucher


@dataclass(frozen=True, slots=True)
class Payable:
    """An active, unpaid redemption of an expert whose bank details are confirmed."""

    redemption: Redemption
    voucher_code: str
    expert: Expert


async def get_expert(session: AsyncSession, expert_id: int) -> Expert:
    """The expert; ExpertNotFound."""
    return await registry.get(session, expert_id)


async def payable_redemptions(session: AsyncSession, redeemed_before: datetime) -> list[Payable]:
    """Every active, unpaid redemption made before ``redeemed_before`` by an expert with
    an IBAN and a BIC, by expert then redemption. A plain read: nothing is claimed yet."""
    query = (
        select(Redemption, col(Voucher.code), Expert)
        .join(Voucher, col(Voucher.id) == col(Redemption.voucher_id))
        .join(Expert, col(Expert.id) == col(Redemption.expert_id))
        .where(
            col(Redemption.status) == RedemptionStatus.active,
            col(Redemption.payout_state) == PayoutState.unpaid,
            col(Redemption.redeemed_at) < redeemed_before,
            col(Expert.iban) != "",
            col(Expert.bic) != "",
        )
        .order_by(col(Redemption.expert_id), col(Redemption.id))
    )
    return [Payable(*row) for row in (await session.execute(query)).all()]


async def claim_for_payout(session: AsyncSession, redemption_ids: Collection[int]) -> set[int]:
    """The redemptions a payout took: a conditional update that moves only those still
    active and unpaid to ``batched``. It waits for an undo or another batch holding a row,
    then decides on the row as they left it; a redemption lost to them is not returned."""
    if not redemption_ids:
        return set()
    claimed = await session.execute(
        update(Redemption)
        .where(
            col(Redemption.id).in_(redemption_ids),
            col(Redemption.status) == RedemptionStatus.active,
            col(Redemption.payout_state) == PayoutState.unpaid,
        )
        .values(payout_state=PayoutState.batched)
        .returning(col(Redemption.id))
        .execution_options(synchronize_session="fetch")
    )
    # Stored ids are NOT NULL; the model's `int | None` is for rows not yet flushed.
    return cast(set[int], set(claimed.scalars()))


async def release_from_payout(session: AsyncSession, redemption_ids: Collection[int]) -> None:
    """The payout was cancelled or sent back: the redemptions are unpaid, free for another."""
    await _move_payout_state(session, redemption_ids, PayoutState.unpaid)


async def mark_paid(session: AsyncSession, redemption_ids: Collection[int]) -> None:
    """The bank paid the transfer that carried these redemptions."""
    await _move_payout_state(session, redemption_ids, PayoutState.paid)


async def _move_payout_state(
    session: AsyncSession, redemption_ids: Collection[int], state: PayoutState
) -> None:
    if redemption_ids:
        await session.execute(
            update(Redemption)
            .where(col(Redemption.id).in_(redemption_ids))
            .values(payout_state=state)
        )


async def redemptions(session: AsyncSession, redemption_ids: Collection[int]) -> list[Redemption]:
    """The redemptions, by id."""
    query = (
        select(Redemption)
        .where(col(Redemption.id).in_(redemption_ids))
        .order_by(col(Redemption.id))
    )
    return list((await session.execute(query)).scalars())


async def vouchers_of(session: AsyncSession, redemption_ids: Collection[int]) -> list[int]:
    """The cheques these redemptions were made on, each once, by id."""
    query = (
        select(col(Redemption.voucher_id))
        .where(col(Redemption.id).in_(redemption_ids))
        .distinct()
        .order_by(col(Redemption.voucher_id))
    )
    return list((await session.execute(query)).scalars())


async def fully_paid(session: AsyncSession, voucher_id: int) -> bool:
    """Whether every active redemption of the cheque is paid."""
    query = select(col(Redemption.id)).where(
        col(Redemption.voucher_id) == voucher_id,
        col(Redemption.status) == RedemptionStatus.active,
        col(Redemption.payout_state) != PayoutState.paid,
    )
    return (await session.execute(query)).first() is None


@dataclass(frozen=True, slots=True)
class ChequeRedemption:
    """One redemption of a cheque: who, when, how much (what its beneficiary sees), and for
    the back office its invoice and where its payment stands."""

    expert_name: str
    redeemed_at: datetime
    coaching_date: date
    amount_cents: int
    cancelled: bool
    redemption_id: int
    invoice_reference: str
    payout_state: PayoutState


async def redemptions_of_voucher(session: AsyncSession, voucher_id: int) -> list[ChequeRedemption]:
    """Every redemption of the cheque, cancelled ones included, oldest first."""
    query = (
        select(Redemption, col(Expert.legal_name))
        .join(Expert, col(Expert.id) == col(Redemption.expert_id))
        .where(col(Redemption.voucher_id) == voucher_id)
        .order_by(col(Redemption.redeemed_at), col(Redemption.id))
    )
    return [
        ChequeRedemption(
            expert_name=name,
            redeemed_at=redemption.redeemed_at,
            coaching_date=redemption.coaching_date,
            amount_cents=redemption.amount_cents,
            cancelled=redemption.status is RedemptionStatus.cancelled,
            redemption_id=cast(int, redemption.id),
            invoice_reference=redemption.invoice_reference,
            payout_state=redemption.payout_state,
        )
        for redemption, name in (await session.execute(query)).all()
    ]
