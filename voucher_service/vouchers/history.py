"""A cheque's history: every step is written twice in the caller's transaction, as a
voucher_event row (what the API shows) and as an event of the chained audit trail."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core import audit
from voucher_service.core.context import current_actor
from voucher_service.vouchers import repository
from voucher_service.vouchers.models import Voucher, VoucherEvent, VoucherStatus


def state(status: VoucherStatus, balance_cents: int) -> dict[str, Any]:
    return {"status": status.value, "balance_cents": balance_cents}


def spendable_status(balance_cents: int, amount_cents: int) -> VoucherStatus:
    """What a spendable cheque with that balance was: untouched or partly used."""
    if balance_cents == amount_cents:
        return VoucherStatus.issued
    return VoucherStatus.partially_redeemed


def record(
    session: AsyncSession,
    voucher: Voucher,
    action: str,
    before: dict[str, Any] | None,
    *,
    amount_cents: int | None = None,
    reason: str | None = None,
) -> None:
    """The cheque's history event and the audit event, in the same transaction."""
    assert voucher.id is not None
    actor = current_actor.get()
    session.add(
        VoucherEvent(
            voucher_id=voucher.id,
            action=action,
            status=voucher.status,
            amount_cents=amount_cents,
            balance_cents=voucher.balance_cents,
            actor_role=actor.role,
            actor_label=actor.label,
            reason=reason,
        )
    )
    after = state(voucher.status, voucher.balance_cents)
    if amount_cents is not None:
        after["amount_cents"] = amount_cents
    if reason:
        after["reason"] = reason
    if action == "issued":
        # What was issued, but never the beneficiary's e-mail: the trail outlives the purge.
        after.update(
            voucher.model_dump(mode="json", exclude={"token", "updated_at", "beneficiary_email"})
        )
    audit.record(session, f"voucher.{action}", "voucher", voucher.id, before=before, after=after)


async def events(session: AsyncSession, voucher_id: int) -> list[VoucherEvent]:
    """The cheque's history, oldest step first."""
    return await repository.history(session, voucher_id)
