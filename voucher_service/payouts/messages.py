"""What experts are told about their payments, queued in the transaction of the bank
statement that settles the transfer (the notifications outbox sends it after the commit)."""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experts import service as experts_service
from experts.models import Redemption
from notifications import service as notifications
from voucher_service.payouts.models import PayoutTransfer
from voucher_service.programmes.models import Programme
from voucher_service.vouchers.models import Voucher


async def tell_paid(
    session: AsyncSession,
    transfer: PayoutTransfer,
    redemptions: list[Redemption],
    executed_on: date,
) -> None:
    """The expert is told the transfer was made, with the cheques it pays."""
    expert = await experts_service.get_expert(session, transfer.expert_id)
    cheques, programme = await _cheques(session, redemptions)
    await notifications.enqueue(
        session,
        "payout_sent",
        expert.email,
        {
            "expert_name": expert.legal_name,
            "total_cents": transfer.amount_cents,
            "executed_on": executed_on,
            "cheques": cheques,
            "programme_name": programme.name if programme else "",
            "programme_contact": programme.contact_email if programme else "",
        },
        dedupe_key=f"payout_sent:{transfer.end_to_end_id}",
    )


async def _cheques(
    session: AsyncSession, redemptions: list[Redemption]
) -> tuple[list[dict[str, Any]], Programme | None]:
    """Each redemption's cheque code, amount and invoice, and the programme of the first."""
    cheques = []
    programme: Programme | None = None
    for redemption in redemptions:
        voucher = await session.get(Voucher, redemption.voucher_id)
        assert voucher is not None
        programme = programme or await session.get(Programme, voucher.programme_id)
        cheques.append(
            {
                "code": voucher.code,
                "amount_cents": redemption.amount_cents,
                "invoice_reference": redemption.invoice_reference,
            }
        )
    return cheques, programme
