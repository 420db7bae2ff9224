"""Redemption: an accredited expert takes a cheque's amount, at most once whatever the
network does; the expert can undo it within a window, before it is paid."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experts import accounting, messages, registry, repository
from experts.errors import (
    AlreadyInPayout,
    InvalidCoachingDate,
    NotYourRedemption,
    RedeemedByAnotherExpert,
    RedemptionCancelled,
    RedemptionNotFound,
    TooManyFailedRedemptions,
    UndoWindowClosed,
)
from experts.models import (
    Expert,
    PayoutState,
    Redemption,
    RedemptionAttempt,
    RedemptionStatus,
)
from experts.schemas import RedemptionCreate, RedemptionPublic, VoucherCheck
from voucher_service.core import audit, db, idempotency
from voucher_service.core.auth.models import User
from voucher_service.core.clock import paris_today, seconds_until, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.errors import ServiceError
from voucher_service.vouchers import redeemable
from voucher_service.vouchers import service as vouchers
from voucher_service.vouchers.models import Voucher


def _failure_window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.redemption_failure_window_minutes)


async def _refuse_when_throttled(
    session: AsyncSession, expert_id: int | None, settings: Settings
) -> None:
    """429 while the expert has the most refusals allowed in the window, until the oldest
    of those that keep it there leaves the window. Read after the expert's row lock was
    taken, in a statement of its own, so that it sees the refusals recorded meanwhile."""
    most, window = settings.redemption_max_failures, _failure_window(settings)
    holding_at = await repository.nth_latest_refusal(session, expert_id, utcnow() - window, most)
    if holding_at is not None:
        raise TooManyFailedRedemptions(retry_after=seconds_until(holding_at + window))


async def redeeming_expert(session: AsyncSession, user: User, settings: Settings) -> Expert:
    """The user's expert, under its row lock, held until a refused attempt is recorded, so
    that the concurrent attempts of one expert are decided one after the other; an expert
    refused too often in the window waits (429)."""
    expert = await registry.for_user(session, user, locked=True)
    await _refuse_when_throttled(session, expert.id, settings)
    return expert


@dataclass(frozen=True)
class Redeemed:
    """A redemption's answer as JSON: the first one again when its key was seen before."""

    status_code: int
    body: dict[str, Any]


async def redeem_once(
    session: AsyncSession,
    user: User,
    body: RedemptionCreate,
    settings: Settings,
    key: str | None = None,
) -> Redeemed:
    """The expert's redemption, whichever screen asks: throttled, at most once per
    idempotency key, and a refusal kept on record (it counts towards the throttle)."""
    expert = await redeeming_expert(session, user, settings)
    assert expert.id is not None
    try:
        return await _redeem_keyed(session, expert, f"user:{user.id}", body, settings, key)
    except ServiceError as error:
        refused = RedemptionAttempt(
            expert_id=expert.id, presented=body.token[:200], code=error.code
        )
        db.keep(session, refused)
        raise


@db.atomic
async def _redeem_keyed(
    session: AsyncSession,
    expert: Expert,
    owner: str,
    body: RedemptionCreate,
    settings: Settings,
    key: str | None,
) -> Redeemed:
    request_print = idempotency.fingerprint("POST", "redeem", body.model_dump(mode="json"))
    if key and (stored := await idempotency.claim(session, owner, key, request_print)):
        return Redeemed(stored.status_code, stored.body)
    done, voucher = await redeem(session, expert, body, settings)
    answer = public(done, voucher, settings).model_dump(mode="json")
    if key:
        await idempotency.complete(session, owner, key, 201, answer)
    return Redeemed(201, answer)


async def check(
    session: AsyncSession, expert: Expert, presented: str, settings: Settings
) -> VoucherCheck:
    registry.ensure_can_redeem(expert)
    voucher = await vouchers.resolve(session, presented, settings)
    today = paris_today()
    reason = redeemable.reason(voucher, today)
    return VoucherCheck(
        code=voucher.code,
        company_name=voucher.company_name,
        amount_cents=voucher.amount_cents,
        balance_cents=voucher.balance_cents,
        valid_from=voucher.valid_from,
        valid_until=voucher.valid_until,
        status=voucher.status_on(today).value,
        redeemable=reason is None,
        reason=reason,
    )


def ensure_coaching_date(coaching: date, voucher: Voucher) -> None:
    """A coaching session took place between the cheque's issue and today (Paris days)."""
    if coaching > paris_today():
        raise InvalidCoachingDate("La date de l'accompagnement ne peut pas être future.")
    issued_on = paris_today(voucher.issued_at)
    if coaching < issued_on:
        raise InvalidCoachingDate(
            "La date de l'accompagnement ne peut pas précéder l'émission du chèque, "
            f"le {issued_on.strftime('%d/%m/%Y')}."
        )


async def redeem(
    session: AsyncSession, expert: Expert, body: RedemptionCreate, settings: Settings
) -> tuple[Redemption, Voucher]:
    registry.ensure_can_redeem(expert)
    voucher, programme = await vouchers.resolve_with_programme(session, body.token, settings)
    ensure_coaching_date(body.coaching_date, voucher)
    assert voucher.id is not None and expert.id is not None
    # Without an amount, the whole balance; a spent cheque is then refused as such.
    amount = body.amount_cents or voucher.balance_cents or voucher.amount_cents
    redemption = Redemption(
        voucher_id=voucher.id,
        expert_id=expert.id,
        amount_cents=amount,
        coaching_date=body.coaching_date,
        invoice_reference=body.invoice_reference,
    )
    # Its id first (a refused take rolls it back): the cheque's history, the audit events
    # and the messages then go in one flush, a statement per table.
    session.add(redemption)
    await session.flush()
    voucher = await vouchers.take_amount(session, voucher.id, amount, paris_today())
    if voucher.balance_cents + amount < voucher.amount_cents:
        assert voucher.id is not None
        await _ensure_single_expert(session, voucher.id, expert.id)
    audit.record(
        session,
        "redemption.created",
        "redemption",
        redemption.id,
        after={
            "voucher": voucher.code,
            "amount_cents": amount,
            "invoice_reference": body.invoice_reference,
        },
    )
    accounting.book_expense(session, redemption, expert, voucher.code)
    until = cancel_until(redemption, settings)
    await messages.tell_redeemed(session, expert, redemption, voucher, programme, until)
    return redemption, voucher


async def _ensure_single_expert(session: AsyncSession, voucher_id: int, expert_id: int) -> None:
    """Partial redemptions belong to one expert. Read after the voucher row was taken: a
    concurrent taker waited on that row, so it sees the other's redemption here. A cheque
    whose whole balance was left until this take has no other redemption to look for."""
    if await repository.has_another_experts_redemption(session, voucher_id, expert_id):
        raise RedeemedByAnotherExpert()


def cancel_until(redemption: Redemption, settings: Settings) -> datetime:
    return redemption.redeemed_at + timedelta(hours=settings.redemption_undo_hours)


def why_not_cancellable(redemption: Redemption, settings: Settings) -> ServiceError | None:
    """Why the expert can no longer undo this redemption, or None while it can."""
    if redemption.status is RedemptionStatus.cancelled:
        return RedemptionCancelled()
    if redemption.payout_state is not PayoutState.unpaid:
        return AlreadyInPayout()
    if utcnow() > cancel_until(redemption, settings):
        return UndoWindowClosed()
    return None


@db.atomic
async def cancel(
    session: AsyncSession, expert: Expert, redemption_id: int, settings: Settings
) -> tuple[Redemption, Voucher]:
    """Undo under the row's lock, decided on the row as the database has it now: a batch
    that claimed it first is seen (the read waits for it), one that comes later waits for
    the undo and leaves the cancelled redemption out."""
    redemption = await repository.locked_redemption(session, redemption_id)
    if redemption is None:
        raise RedemptionNotFound()
    if redemption.expert_id != expert.id:
        raise NotYourRedemption()
    if (refusal := why_not_cancellable(redemption, settings)) is not None:
        raise refusal
    voucher = await vouchers.give_back(session, redemption.voucher_id, redemption.amount_cents)
    redemption.status, redemption.cancelled_at = RedemptionStatus.cancelled, utcnow()
    await session.flush()
    audit.record(
        session,
        "redemption.cancelled",
        "redemption",
        redemption.id,
        before={"status": "active"},
        after={"status": "cancelled"},
    )
    await accounting.reverse_expense(session, redemption, voucher.code)
    await messages.tell_cancelled(session, expert, redemption, voucher)
    return redemption, voucher


async def own(
    session: AsyncSession, expert: Expert, redemption_id: int
) -> tuple[Redemption, Voucher]:
    """One of the expert's redemptions with its cheque; another's is not found."""
    found = await repository.redemption_of(session, expert.id, redemption_id)
    if found is None:
        raise RedemptionNotFound()
    return found


async def list_for(session: AsyncSession, expert: Expert) -> list[tuple[Redemption, Voucher]]:
    return await repository.latest_redemptions(session, expert.id)


def public(redemption: Redemption, voucher: Voucher, settings: Settings) -> RedemptionPublic:
    assert redemption.id is not None
    return RedemptionPublic(
        id=redemption.id,
        voucher_code=voucher.code,
        company_name=voucher.company_name,
        amount_cents=redemption.amount_cents,
        voucher_balance_cents=voucher.balance_cents,
        coaching_date=redemption.coaching_date,
        invoice_reference=redemption.invoice_reference,
        status=redemption.status,
        payout_state=redemption.payout_state,
        redeemed_at=redemption.redeemed_at,
        cancel_until=cancel_until(redemption, settings),
        cancelled_at=redemption.cancelled_at,
    )
