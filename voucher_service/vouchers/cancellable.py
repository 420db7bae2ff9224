"""Whether an administrator can still cancel a cheque, written once: the condition of the
cancellation's conditional UPDATE and, beside it, the refusal a person reads when it does
not hold (a test holds them together)."""

from sqlalchemy import ColumnElement
from sqlmodel import col

from voucher_service.core.clock import paris_today
from voucher_service.core.formatting import french_date
from voucher_service.vouchers.errors import VoucherNotCancellable
from voucher_service.vouchers.models import SPENDABLE, Voucher, VoucherStatus

REASONS = {
    VoucherStatus.redeemed: (
        "Ce chèque a déjà été entièrement utilisé : il ne peut plus être annulé."
    ),
    VoucherStatus.paid: (
        "Ce chèque a été utilisé et payé à l'expert : il ne peut plus être annulé."
    ),
    VoucherStatus.expired: (
        "Ce chèque a expiré : ce qui n'avait pas été utilisé est déjà revenu à l'enveloppe."
    ),
}


def condition() -> ColumnElement[bool]:
    """The cheques a cancellation may take (its UPDATE's WHERE, beside the id)."""
    return col(Voucher.status).in_(SPENDABLE)


def refusal(voucher: Voucher) -> VoucherNotCancellable | None:
    """Why `condition` leaves this cheque out, in French, or None when it holds."""
    if voucher.status in SPENDABLE:
        return None
    if voucher.status is VoucherStatus.cancelled:
        since = voucher.cancelled_at
        day = f" depuis le {french_date(paris_today(since))}" if since is not None else ""
        reason = f"Ce chèque est déjà annulé{day}."
    else:
        reason = REASONS[voucher.status]
    return VoucherNotCancellable(reason, voucher_status=voucher.status.value)
