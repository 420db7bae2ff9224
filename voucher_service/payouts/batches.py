"""Payout batches: gather what is owed up to a cut-off, one transfer per expert, the SEPA
file, and cancelling a draft."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Row, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import Expert, PayoutState, Redemption, RedemptionStatus
from voucher_service.core import audit, clock
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.formatting import french_date
from voucher_service.payouts import business_days, sepa
from voucher_service.payouts.errors import (
    BatchCancelled,
    BatchNotCancellable,
    BatchNotFound,
    NothingToPay,
    RedemptionAlreadyBatched,
)
from voucher_service.payouts.models import (
    BatchStatus,
    PayoutBatch,
    PayoutItem,
    PayoutTransfer,
    TransferStatus,
)
from voucher_service.vouchers.models import Voucher


@dataclass
class _Owed:
    redemption: Redemption
    code: str


async def create_batch(session: AsyncSession, cut_off: date) -> PayoutBatch:
    """A draft batch of every active, unpaid redemption made up to the end of ``cut_off``
    (Paris time) by an expert whose bank details are confirmed; they become ``batched``."""
    query = (
        select(Redemption, col(Voucher.code), Expert)
        .join(Voucher, col(Voucher.id) == col(Redemption.voucher_id))
        .join(Expert, col(Expert.id) == col(Redemption.expert_id))
        .where(
            col(Redemption.status) == RedemptionStatus.active,
            col(Redemption.payout_state) == PayoutState.unpaid,
            col(Redemption.redeemed_at) < clock.end_of_paris_day(cut_off),
            col(Expert.iban) != "",
            col(Expert.bic) != "",
        )
        .order_by(col(Redemption.expert_id), col(Redemption.id))
    )
    rows = await _claim(session, (await session.execute(query)).all())
    if not rows:
        raise NothingToPay(f"Aucune prestation impayée au {french_date(cut_off)}.")
    owed: dict[int, list[_Owed]] = defaultdict(list)
    experts: dict[int, Expert] = {}
    for redemption, code, expert in rows:
        assert expert.id is not None
        owed[expert.id].append(_Owed(redemption, code))
        experts[expert.id] = expert
    ids = [r.redemption.id for group in owed.values() for r in group]

    batch = PayoutBatch(cut_off=cut_off)
    session.add(batch)
    await session.flush()
    assert batch.id is not None
    batch.message_id = sepa.batch_message_id(batch.id)
    total = 0
    try:
        async with session.begin_nested():
            for expert_id, group in owed.items():
                expert = experts[expert_id]
                amount = sum(r.redemption.amount_cents for r in group)
                transfer = PayoutTransfer(
                    batch_id=batch.id,
                    expert_id=expert_id,
                    amount_cents=amount,
                    end_to_end_id=sepa.end_to_end_id(batch.id, expert_id),
                    creditor_name=expert.legal_name,
                    iban=expert.iban,
                    bic=expert.bic,
                    remittance=sepa.remittance_text(
                        [r.redemption.invoice_reference for r in group], [r.code for r in group]
                    ),
                )
                session.add(transfer)
                await session.flush()
                assert transfer.id is not None
                for item in group:
                    assert item.redemption.id is not None
                    session.add(
                        PayoutItem(
                            transfer_id=transfer.id,
                            redemption_id=item.redemption.id,
                            live_redemption_id=item.redemption.id,
                            amount_cents=item.redemption.amount_cents,
                        )
                    )
                total += amount
            await session.flush()
    except IntegrityError as error:
        raise RedemptionAlreadyBatched() from error
    batch.total_cents = total
    await session.flush()
    audit.record(
        session,
        "payout_batch.created",
        "payout_batch",
        batch.id,
        after={
            "cut_off": cut_off.isoformat(),
            "total_cents": total,
            "transfers": len(owed),
            "redemptions": ids,
        },
    )
    return batch


async def _claim(
    session: AsyncSession, rows: Sequence[Row[Redemption, str, Expert]]
) -> list[Row[Redemption, str, Expert]]:
    """The rows whose redemption this batch took: a conditional update that takes only
    those still active and unpaid. It waits for an undo or another batch holding the row,
    then decides on the row as they left it; a redemption lost to them is left out."""
    if not rows:
        return []
    claimed = await session.execute(
        update(Redemption)
        .where(
            col(Redemption.id).in_([row[0].id for row in rows]),
            col(Redemption.status) == RedemptionStatus.active,
            col(Redemption.payout_state) == PayoutState.unpaid,
        )
        .values(payout_state=PayoutState.batched)
        .returning(col(Redemption.id))
        .execution_options(synchronize_session="fetch")
    )
    taken = set(claimed.scalars())
    return [row for row in rows if row[0].id in taken]


async def get_batch(session: AsyncSession, batch_id: int) -> PayoutBatch:
    batch = await session.get(PayoutBatch, batch_id)
    if batch is None:
        raise BatchNotFound(f"Aucun lot de virements n°{batch_id}.")
    return batch


async def list_batches(
    session: AsyncSession, offset: int = 0, limit: int = 50
) -> list[PayoutBatch]:
    query = select(PayoutBatch).order_by(col(PayoutBatch.id).desc()).offset(offset).limit(limit)
    return list((await session.execute(query)).scalars())


async def count_batches(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(PayoutBatch))).scalar_one()


async def transfers_of(session: AsyncSession, batch_id: int) -> list[PayoutTransfer]:
    query = (
        select(PayoutTransfer)
        .where(col(PayoutTransfer.batch_id) == batch_id)
        .order_by(col(PayoutTransfer.id))
    )
    return list((await session.execute(query)).scalars())


async def release_items(session: AsyncSession, transfer_ids: list[int]) -> list[int]:
    """Clear the live link of the transfers' items and put their redemptions back to unpaid;
    returns the redemption ids."""
    items = (
        await session.execute(
            select(PayoutItem).where(col(PayoutItem.transfer_id).in_(transfer_ids))
        )
    ).scalars()
    redemption_ids = [item.redemption_id for item in items]
    await session.execute(
        update(PayoutItem)
        .where(col(PayoutItem.transfer_id).in_(transfer_ids))
        .values(live_redemption_id=None)
    )
    if redemption_ids:
        await session.execute(
            update(Redemption)
            .where(col(Redemption.id).in_(redemption_ids))
            .values(payout_state=PayoutState.unpaid)
        )
    return redemption_ids


async def cancel_batch(session: AsyncSession, batch_id: int) -> PayoutBatch:
    """A draft batch only: its redemptions go back to unpaid, free for the next batch, and
    its transfers are cancelled, so that no bank statement settles them."""
    batch = await get_batch(session, batch_id)
    if batch.status is not BatchStatus.draft:
        raise BatchNotCancellable(batch_status=batch.status.value)
    transfers = await transfers_of(session, batch_id)
    redemption_ids = await release_items(session, [t.id for t in transfers if t.id is not None])
    for transfer in transfers:
        transfer.status = TransferStatus.cancelled
    batch = await get_batch(session, batch_id)
    batch.status = BatchStatus.cancelled
    batch.cancelled_at = utcnow()
    await session.flush()
    audit.record(
        session,
        "payout_batch.cancelled",
        "payout_batch",
        batch_id,
        before={"status": BatchStatus.draft.value},
        after={"status": BatchStatus.cancelled.value, "redemptions": redemption_ids},
    )
    return batch


def file_created_at(batch: PayoutBatch, now: datetime) -> datetime:
    """When the batch's SEPA file, downloaded at ``now``, says it was created: at the first
    download of that Paris day, so that the day's downloads are byte-identical."""
    stamped = batch.file_created_at
    if stamped is not None and paris_today(stamped) == paris_today(now):
        return stamped
    return now


def execution_date(batch: PayoutBatch, now: datetime, settings: Settings) -> date:
    """The execution date the file downloaded at ``now`` asks for: never a past day."""
    created = file_created_at(batch, now)
    return business_days.requested_execution_date(created, settings.payout_cutoff_hour)


async def _stamp_file(session: AsyncSession, batch: PayoutBatch, now: datetime) -> datetime:
    """Record the first download of the day; a concurrent first download keeps its own."""
    if batch.file_created_at is not None and file_created_at(batch, now) == batch.file_created_at:
        return batch.file_created_at
    today = paris_today(now)
    stamped = col(PayoutBatch.file_created_at)
    await session.execute(
        update(PayoutBatch)
        .where(
            col(PayoutBatch.id) == batch.id,
            or_(
                stamped.is_(None),
                stamped < clock.end_of_paris_day(today - timedelta(days=1)),
                stamped >= clock.end_of_paris_day(today),
            ),
        )
        .values(file_created_at=now)
    )
    await session.refresh(batch, ["file_created_at"])
    assert batch.file_created_at is not None
    return batch.file_created_at


async def sepa_file(
    session: AsyncSession, batch_id: int, settings: Settings, now: datetime | None = None
) -> bytes:
    """The pain.001 file of the batch downloaded at ``now`` (the clock's time by default),
    identical at every download of a Paris day; the first download moves a draft to
    exported."""
    batch = await get_batch(session, batch_id)
    if batch.status is BatchStatus.cancelled:
        raise BatchCancelled()
    created_at = await _stamp_file(session, batch, now or utcnow())
    transfers = await transfers_of(session, batch_id)
    debtor = sepa.Debtor(
        settings.payout_debtor_name, settings.payout_debtor_iban, settings.payout_debtor_bic
    )
    document = sepa.build_credit_transfers(
        debtor,
        [
            sepa.Transfer(
                t.end_to_end_id, t.creditor_name, t.iban, t.bic, t.amount_cents, t.remittance
            )
            for t in transfers
        ],
        message_id=batch.message_id,
        execution_date=business_days.requested_execution_date(
            created_at, settings.payout_cutoff_hour
        ),
        created_at=created_at,
    )
    if batch.status is BatchStatus.draft:
        await _mark_exported(session, batch)
    return document


async def _mark_exported(session: AsyncSession, batch: PayoutBatch) -> None:
    """Draft to exported, recorded once however many first downloads run at a time."""
    # An UPDATE's result is a CursorResult, which the typed execute() does not say.
    moved = cast(
        CursorResult[Any],
        await session.execute(
            update(PayoutBatch)
            .where(
                col(PayoutBatch.id) == batch.id,
                col(PayoutBatch.status) == BatchStatus.draft,
            )
            .values(status=BatchStatus.exported, exported_at=utcnow())
        ),
    )
    await session.refresh(batch, ["status", "exported_at"])
    if moved.rowcount:
        audit.record(
            session,
            "payout_batch.exported",
            "payout_batch",
            batch.id,
            before={"status": BatchStatus.draft.value},
            after={"status": BatchStatus.exported.value, "message_id": batch.message_id},
        )
