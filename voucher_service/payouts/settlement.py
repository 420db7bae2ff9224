"""What the bank did to a transfer, applied: settled (its redemptions and fully paid
cheques are paid, the ledger books the payment, the expert is told) or returned (its
redemptions are unpaid again, free for a new batch), and its batch's state follows."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from experts import service as experts_service
from experts.models import Redemption
from voucher_service.core import audit
from voucher_service.core.clock import utcnow
from voucher_service.payouts import accounting, messages, repository
from voucher_service.payouts.batches import release_items
from voucher_service.payouts.models import BatchStatus, PayoutBatch, PayoutTransfer, TransferStatus
from voucher_service.vouchers import service as vouchers
from voucher_service.vouchers.models import Voucher, VoucherStatus


async def settle_transfer(
    session: AsyncSession, transfer: PayoutTransfer, executed_on: date
) -> None:
    """The bank paid the transfer: its redemptions are paid, fully paid cheques too, and
    the expert is told."""
    assert transfer.id is not None
    transfer.status = TransferStatus.settled
    transfer.settled_at = utcnow()
    redemption_ids = await repository.redemption_ids_of(session, [transfer.id])
    redemptions = await experts_service.redemptions(session, redemption_ids)
    ids = [r.id for r in redemptions if r.id is not None]
    await experts_service.mark_paid(session, ids)
    await session.flush()
    payable = await _fully_paid_cheques(session, redemptions)
    if payable:
        await vouchers.mark_paid(session, payable)
    accounting.book_payment(session, transfer, executed_on)
    audit.record(
        session,
        "payout_transfer.settled",
        "payout_transfer",
        transfer.id,
        before={"status": TransferStatus.pending.value},
        after={"status": TransferStatus.settled.value, "redemptions": ids, "paid": payable},
    )
    await messages.tell_paid(session, transfer, redemptions, executed_on)


async def _fully_paid_cheques(session: AsyncSession, redemptions: list[Redemption]) -> list[int]:
    """The redeemed cheques of these redemptions whose every active redemption is paid."""
    payable = []
    for voucher_id in sorted({r.voucher_id for r in redemptions}):
        voucher = await session.get(Voucher, voucher_id)
        if voucher is None or voucher.status is not VoucherStatus.redeemed:
            continue
        if await experts_service.fully_paid(session, voucher_id):
            payable.append(voucher_id)
    return payable


async def return_transfer(
    session: AsyncSession, transfer: PayoutTransfer, reason: str | None, booked_on: date
) -> None:
    """The bank sent the money back: the redemptions are unpaid again, free for a new batch."""
    assert transfer.id is not None
    before = transfer.status
    transfer.status = TransferStatus.returned
    transfer.return_reason = (reason or "")[:35] or None
    redemption_ids = await release_items(session, [transfer.id])
    await session.flush()
    unpaid: list[int] = []
    if before is TransferStatus.settled:
        unpaid = await _unpay_cheques(session, transfer, redemption_ids, booked_on)
    audit.record(
        session,
        "payout_transfer.returned",
        "payout_transfer",
        transfer.id,
        before={"status": before.value},
        after={
            "status": TransferStatus.returned.value,
            "reason": transfer.return_reason,
            "redemptions": redemption_ids,
            "unpaid": unpaid,
        },
    )


async def _unpay_cheques(
    session: AsyncSession, transfer: PayoutTransfer, redemption_ids: list[int], booked_on: date
) -> list[int]:
    """A settled transfer came back: its paid cheques are unpaid again and the ledger
    reverses the payment. Returns the cheques unpaid."""
    voucher_ids = await experts_service.vouchers_of(session, redemption_ids)
    unpaid = await repository.paid_vouchers(session, voucher_ids)
    if unpaid:
        await vouchers.mark_unpaid(session, unpaid)
    await accounting.reverse_payment(session, transfer, booked_on)
    return unpaid


async def update_batch(session: AsyncSession, batch_id: int) -> None:
    """The batch follows its transfers: settled when all are, partially settled when any
    has left the pending state."""
    batch = await session.get(PayoutBatch, batch_id)
    assert batch is not None
    status = _batch_status(await repository.transfer_statuses(session, batch_id))
    if status is None or status is batch.status:
        return
    before = batch.status
    batch.status = status
    batch.settled_at = utcnow()
    await session.flush()
    audit.record(
        session,
        f"payout_batch.{status.value}",
        "payout_batch",
        batch_id,
        before={"status": before.value},
        after={"status": status.value},
    )


def _batch_status(statuses: list[TransferStatus]) -> BatchStatus | None:
    if all(s is TransferStatus.settled for s in statuses):
        return BatchStatus.settled
    if any(s is not TransferStatus.pending for s in statuses):
        return BatchStatus.partially_settled
    return None
