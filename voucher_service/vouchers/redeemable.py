"""Whether a cheque can be redeemed, written once: the condition the database applies when
it takes an amount, and beside it the refusal a person reads when it cannot, checked in
the same order, so that neither changes alone (a test holds them together)."""

from datetime import date

from sqlalchemy import ColumnElement
from sqlmodel import col

from voucher_service.core.errors import ServiceError
from voucher_service.vouchers.errors import (
    AlreadyRedeemed,
    InsufficientBalance,
    VoucherCancelled,
    VoucherExpired,
    VoucherNotYetValid,
)
from voucher_service.vouchers.models import SPENDABLE, Voucher, VoucherStatus


def condition(today: date, amount_cents: int) -> list[ColumnElement[bool]]:
    """The rows an amount can be taken from on that Paris day (the take's WHERE)."""
    return [
        col(Voucher.status).in_(SPENDABLE),
        col(Voucher.valid_until) >= today,
        col(Voucher.valid_from) <= today,
        col(Voucher.balance_cents) >= amount_cents,
    ]


def refusal(voucher: Voucher, today: date, amount_cents: int = 0) -> ServiceError | None:
    """Why `condition` leaves this cheque out, or None when it holds."""
    if voucher.status is VoucherStatus.cancelled:
        return VoucherCancelled(cancelled_at=_iso(voucher.cancelled_at))
    if voucher.status_on(today) is VoucherStatus.expired:
        return VoucherExpired(valid_until=_iso(voucher.valid_until))
    if voucher.status not in SPENDABLE:
        return AlreadyRedeemed(redeemed_at=_iso(voucher.redeemed_at))
    if voucher.valid_from > today:
        return VoucherNotYetValid(valid_from=_iso(voucher.valid_from))
    if voucher.balance_cents < amount_cents:
        return InsufficientBalance(balance_cents=voucher.balance_cents)
    return None


def reason(voucher: Voucher, today: date) -> str | None:
    """The refusal as a sentence for the expert who looks the cheque up."""
    error = refusal(voucher, today)
    if isinstance(error, VoucherNotYetValid):
        return f"Valable à partir du {voucher.valid_from.strftime('%d/%m/%Y')}."
    return None if error is None else f"{error.title}."


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
