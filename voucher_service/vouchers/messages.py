"""What the cheque's holder is told when its cheque changes, queued in the transaction of the
change (the notifications outbox sends it after the commit)."""

from sqlalchemy.ext.asyncio import AsyncSession

from notifications import service as notifications
from voucher_service.programmes.models import Programme
from voucher_service.vouchers.models import Voucher


async def tell_cancelled(
    session: AsyncSession, voucher: Voucher, programme: Programme, reason: str
) -> None:
    """The business learns that its cheque was withdrawn, and why."""
    await notifications.enqueue(
        session,
        "voucher_cancelled",
        voucher.beneficiary_email,
        {
            "programme_name": programme.name,
            "programme_contact": programme.contact_email,
            "company_name": voucher.company_name,
            "contact_name": "Madame, Monsieur",
            "voucher_code": voucher.code,
            "reason": reason,
        },
    )
