"""Payout batches: gather what is owed up to a cut-off, one transfer per expert, the SEPA
file, and cancelling a draft."""

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts import service as experts_service
from experts.service import Payable
from voucher_service.core import audit, clock, db
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.context import current_actor
from voucher_service.core.formatting import french_date
from voucher_service.payouts import approval, business_days, repository, sepa
from voucher_service.payouts.errors import (
    BatchCancelled,
    BatchNotCancellable,
    BatchNotExported,
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
from voucher_service.payouts.repository import get_batch as get_batch


@db.atomic
async def create_batch(session: AsyncSession, cut_off: date) -> PayoutBatch:
    """A draft batch of every active, unpaid redemption made up to the end of ``cut_off``
    (Paris time) by an expert whose bank details are confirmed; they become ``batched``."""
    owed = await _claim_owed(session, cut_off)
    batch = await _open_draft(session, cut_off)
    assert batch.id is not None
    batch.total_cents = await _add_transfers(session, batch.id, owed)
    await session.flush()
    audit.record(
        session,
        "payout_batch.created",
        "payout_batch",
        batch.id,
        after={
            "cut_off": cut_off.isoformat(),
            "total_cents": batch.total_cents,
            "transfers": len(owed),
            "redemptions": [p.redemption.id for group in owed.values() for p in group],
        },
    )
    return batch


async def _claim_owed(session: AsyncSession, cut_off: date) -> dict[int, list[Payable]]:
    """What is owed up to the cut-off and this batch could claim, by expert (in expert
    order); NothingToPay when there is none, or another batch or an undo took it all."""
    gathered = await experts_service.payable_redemptions(session, clock.end_of_paris_day(cut_off))
    ids = [p.redemption.id for p in gathered if p.redemption.id is not None]
    taken = await experts_service.claim_for_payout(session, ids)
    owed: dict[int, list[Payable]] = defaultdict(list)
    for payable in gathered:
        if payable.redemption.id in taken:
            owed[payable.redemption.expert_id].append(payable)
    if not owed:
        raise NothingToPay(f"Aucune prestation impayée au {french_date(cut_off)}.")
    return owed


async def _open_draft(session: AsyncSession, cut_off: date) -> PayoutBatch:
    batch = PayoutBatch(cut_off=cut_off, prepared_by_id=current_actor.get().user_id)
    session.add(batch)
    await session.flush()
    assert batch.id is not None
    batch.message_id = sepa.batch_message_id(batch.id)
    return batch


async def _add_transfers(
    session: AsyncSession, batch_id: int, owed: dict[int, list[Payable]]
) -> int:
    """One transfer per expert with an item per redemption; their total. A redemption that
    another batch holds (its live item is unique) refuses the whole batch."""
    try:
        async with session.begin_nested():
            for group in owed.values():
                await _add_transfer(session, batch_id, group)
            await session.flush()
    except IntegrityError as error:
        raise RedemptionAlreadyBatched() from error
    return sum(p.redemption.amount_cents for group in owed.values() for p in group)


async def _add_transfer(session: AsyncSession, batch_id: int, group: list[Payable]) -> None:
    """The transfer paying one expert's redemptions, and its items."""
    expert = group[0].expert
    assert expert.id is not None
    transfer = PayoutTransfer(
        batch_id=batch_id,
        expert_id=expert.id,
        amount_cents=sum(p.redemption.amount_cents for p in group),
        end_to_end_id=sepa.end_to_end_id(batch_id, expert.id),
        creditor_name=expert.legal_name,
        iban=expert.iban,
        bic=expert.bic,
        remittance=sepa.remittance_text(
            [p.redemption.invoice_reference for p in group], [p.voucher_code for p in group]
        ),
    )
    session.add(transfer)
    await session.flush()
    assert transfer.id is not None
    session.add_all(_items(transfer.id, group))


def _items(transfer_id: int, group: list[Payable]) -> list[PayoutItem]:
    items = []
    for payable in group:
        assert payable.redemption.id is not None
        items.append(
            PayoutItem(
                transfer_id=transfer_id,
                redemption_id=payable.redemption.id,
                live_redemption_id=payable.redemption.id,
                amount_cents=payable.redemption.amount_cents,
            )
        )
    return items


async def list_batches(
    session: AsyncSession, offset: int = 0, limit: int = 50
) -> list[PayoutBatch]:
    query = select(PayoutBatch).order_by(col(PayoutBatch.id).desc()).offset(offset).limit(limit)
    return list((await session.execute(query)).scalars())


async def count_batches(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(PayoutBatch))).scalar_one()


async def release_items(session: AsyncSession, transfer_ids: list[int]) -> list[int]:
    """Clear the live link of the transfers' items and put their redemptions back to unpaid;
    returns the redemption ids."""
    redemption_ids = await repository.redemption_ids_of(session, transfer_ids)
    await repository.unlink_items(session, transfer_ids)
    await experts_service.release_from_payout(session, redemption_ids)
    return redemption_ids


@db.atomic
async def cancel_batch(session: AsyncSession, batch_id: int) -> PayoutBatch:
    """A draft batch only: its redemptions go back to unpaid, free for the next batch, and
    its transfers are cancelled, so that no bank statement settles them. An export at the
    same moment wins or loses whole: the batch leaves the draft state once."""
    batch = await get_batch(session, batch_id)
    if not await _leave_draft(session, batch, BatchStatus.cancelled, cancelled_at=utcnow()):
        raise BatchNotCancellable(batch_status=batch.status.value)
    transfers = await repository.transfers_of(session, batch_id)
    redemption_ids = await release_items(session, [t.id for t in transfers if t.id is not None])
    for transfer in transfers:
        transfer.status = TransferStatus.cancelled
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


async def _leave_draft(
    session: AsyncSession, batch: PayoutBatch, status: BatchStatus, **values: datetime
) -> bool:
    """Move a draft to ``status`` by a conditional update: of an export and a cancellation
    running at once, one moves it and the other finds it moved (``batch`` is re-read)."""
    moved = await _changed_rows(
        session,
        update(PayoutBatch)
        .where(col(PayoutBatch.id) == batch.id, col(PayoutBatch.status) == BatchStatus.draft)
        .values(status=status, **values),
    )
    await session.refresh(batch)
    return moved > 0


async def _changed_rows(session: AsyncSession, statement: Update) -> int:
    # An UPDATE's result is a CursorResult, which the typed execute() does not say.
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount


def file_created_at(batch: PayoutBatch, now: datetime) -> datetime:
    """When the batch's SEPA file, exported at ``now``, says it was created: at the first
    export of that Paris day, so that the day's downloads are byte-identical."""
    stamped = batch.file_created_at
    if stamped is not None and paris_today(stamped) == paris_today(now):
        return stamped
    return now


def execution_date(batch: PayoutBatch, now: datetime, settings: Settings) -> date:
    """The execution date the batch's file asks for, as it was exported; for a draft, the
    one an export at ``now`` would ask for. Never a past day when it is produced."""
    created = now if batch.status is BatchStatus.draft else _file_time(batch)
    return business_days.requested_execution_date(created, settings.payout_cutoff_hour)


def _file_time(batch: PayoutBatch) -> datetime:
    """The creation time of the exported file; a batch settled before any export (or
    exported before files were stamped) takes the time it left the draft, or was made."""
    return batch.file_created_at or batch.exported_at or batch.created_at


async def _stamp_file(session: AsyncSession, batch: PayoutBatch, now: datetime) -> bool:
    """Fix the file at the first export of the day; a concurrent first export keeps its own.
    True when this export stamped it."""
    if batch.file_created_at is not None and file_created_at(batch, now) == batch.file_created_at:
        return False
    today = paris_today(now)
    stamped = col(PayoutBatch.file_created_at)
    moved = await _changed_rows(
        session,
        update(PayoutBatch)
        .where(
            col(PayoutBatch.id) == batch.id,
            or_(
                stamped.is_(None),
                stamped < clock.end_of_paris_day(today - timedelta(days=1)),
                stamped >= clock.end_of_paris_day(today),
            ),
        )
        .values(file_created_at=now),
    )
    await session.refresh(batch, ["file_created_at"])
    return moved > 0


@db.atomic
async def export_batch(
    session: AsyncSession, batch_id: int, settings: Settings, now: datetime | None = None
) -> PayoutBatch:
    """The accountant sends the batch to the bank: a draft (approved by a second person
    under four eyes) becomes exported (it can no longer be cancelled) and its SEPA file is
    fixed, checked against the schema before anything moves. Exporting again the same Paris
    day changes nothing; on a later day it produces that day's file (never a past execution
    date). A settled batch keeps its file."""
    batch = await get_batch(session, batch_id)
    _refuse_cancelled(batch)
    before = {"status": batch.status.value, "file_created_at": _iso(batch.file_created_at)}
    if batch.status not in (BatchStatus.draft, BatchStatus.exported):
        return batch
    approval.check_approved(batch, settings)
    at = now or utcnow()
    stamped = await _stamp_file(session, batch, at)
    moved = batch.status is BatchStatus.draft and await _leave_draft(
        session, batch, BatchStatus.exported, exported_at=at
    )
    _refuse_cancelled(batch)  # a cancellation took the draft first
    await _build_file(session, batch, settings)
    if stamped or moved:
        audit.record(
            session,
            "payout_batch.exported",
            "payout_batch",
            batch_id,
            before=before,
            after={
                "status": batch.status.value,
                "file_created_at": _iso(batch.file_created_at),
                "message_id": batch.message_id,
            },
        )
    return batch


def _refuse_cancelled(batch: PayoutBatch) -> None:
    if batch.status is BatchStatus.cancelled:
        raise BatchCancelled()


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


async def sepa_file(session: AsyncSession, batch_id: int, settings: Settings) -> bytes:
    """The pain.001 file of an exported batch, as its last export fixed it: reading it
    changes nothing, and every download gives the same bytes."""
    batch = await get_batch(session, batch_id)
    _refuse_cancelled(batch)
    if batch.status is BatchStatus.draft:
        raise BatchNotExported()
    return await _build_file(session, batch, settings)


async def _build_file(session: AsyncSession, batch: PayoutBatch, settings: Settings) -> bytes:
    assert batch.id is not None
    transfers = await repository.transfers_of(session, batch.id)
    debtor = sepa.Debtor(
        settings.payout_debtor_name, settings.payout_debtor_iban, settings.payout_debtor_bic
    )
    created = _file_time(batch)
    return sepa.build_credit_transfers(
        debtor,
        [
            sepa.Transfer(
                t.end_to_end_id, t.creditor_name, t.iban, t.bic, t.amount_cents, t.remittance
            )
            for t in transfers
        ],
        message_id=batch.message_id,
        execution_date=business_days.requested_execution_date(created, settings.payout_cutoff_hour),
        created_at=created,
    )
