"""Cheques: issuance, what an expert presents, and every change of state.

Each change of state is ONE conditional UPDATE decided by the database, the same way on
SQLite and PostgreSQL; when it matches no row, the row is read again to say precisely why.
Every change writes its history event and its audit event in the caller's transaction.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, case, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate
from sqlmodel import col

from voucher_service.core import db
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.errors import Conflict, ServiceError
from voucher_service.programmes import service as programme_service
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import (
    accounting,
    cancellable,
    codes,
    history,
    keys,
    messages,
    pdf_workers,
    redeemable,
    repository,
    tokens,
)
from voucher_service.vouchers.errors import (
    InvalidAmount,
    InvalidToken,
    NothingToGiveBack,
    UnknownSigningKey,
    VoucherAlreadyPaid,
    VoucherNotFound,
    VouchersNotPaid,
    VouchersNotPayable,
)
from voucher_service.vouchers.models import REDEEMED, SPENDABLE, Voucher, VoucherStatus
from voucher_service.vouchers.validity import end_of_validity, validity_period

ATTEMPTS = 3
CHANGED = "Le chèque vient de changer d'état : réessayez."


@dataclass(frozen=True)
class IssuedVoucher:
    voucher: Voucher
    token: str
    code: str


async def issue_voucher(
    session: AsyncSession,
    programme: Programme,
    *,
    application_id: int,
    company_name: str,
    siret: str,
    beneficiary_email: str,
    settings: Settings,
) -> IssuedVoucher:
    """A new cheque of the programme's amount, signed with the active key. Called by the
    approval, in its transaction, after the amount was taken from the envelope."""
    assert programme.id is not None
    kid, private_key = await keys.signer(session, settings)
    valid_from, valid_until = validity_period(paris_today(), programme.cheque_validity_days)
    voucher = Voucher(
        code=codes.new_code(),
        programme_id=programme.id,
        application_id=application_id,
        company_name=company_name,
        siret=siret,
        beneficiary_email=beneficiary_email,
        amount_cents=programme.cheque_amount_cents,
        balance_cents=programme.cheque_amount_cents,
        valid_from=valid_from,
        valid_until=valid_until,
        key_id=kid,
    )
    session.add(voucher)
    await session.flush()
    assert voucher.id is not None
    expires_at = int(end_of_validity(valid_until).timestamp())
    claims = tokens.Claims(voucher.id, voucher.amount_cents, expires_at, kid)
    voucher.token = tokens.sign(private_key, claims)
    history.record(session, voucher, "issued", None)
    accounting.book_commitment(session, voucher, programme.name)
    return IssuedVoucher(voucher, voucher.token, voucher.code)


async def _by_typed_code(session: AsyncSession, typed: str) -> tuple[Voucher, Programme]:
    code = codes.normalise(typed)
    if code is None:
        raise InvalidToken("Ce code n'est pas un code de chèque valable : vérifiez la saisie.")
    found = await repository.with_programme(session, col(Voucher.code) == code)
    if found is None:
        raise VoucherNotFound(f"Aucun chèque {code}.")
    return found


async def _by_token(session: AsyncSession, token: str) -> tuple[Voucher, Programme]:
    try:
        signed = tokens.parse(token)
        public_key = await keys.public_key(session, signed.kid)
        if public_key is None:
            raise UnknownSigningKey(f"Clé « {signed.kid} » inconnue ou retirée.")
        claims = tokens.verify(signed, public_key)
    except tokens.TokenRefused as refused:
        raise InvalidToken(f"Jeton refusé : {refused}.") from None
    found = await repository.with_programme(session, col(Voucher.id) == claims.voucher_id)
    if found is None:
        raise VoucherNotFound(f"Aucun chèque n°{claims.voucher_id}.")
    if found[0].token != token:
        raise InvalidToken("Ce jeton n'est pas celui émis pour ce chèque.")
    return found


async def resolve(session: AsyncSession, presented: str, settings: Settings) -> Voucher:
    voucher, _ = await resolve_with_programme(session, presented, settings)
    return voucher


async def resolve_with_programme(
    session: AsyncSession, presented: str, settings: Settings
) -> tuple[Voucher, Programme]:
    """The cheque that was presented, with its programme: what its QR says
    (``{public_url}/r/{token}``, from this or an earlier public address), a bare token, or
    the short code as a person typed it. Validity is not checked here: take_amount decides
    it."""
    try:
        text = tokens.presented_text(presented)
    except tokens.TokenRefused as refused:
        raise InvalidToken(f"Jeton refusé : {refused}.") from None
    if "." in text:
        return await _by_token(session, text)
    return await _by_typed_code(session, text)


async def _why_not_taken(
    session: AsyncSession, voucher_id: int, amount_cents: int, today: date
) -> ServiceError | None:
    """The precise reason a take failed, read again from the row; None if it now could."""
    voucher = await repository.get(session, voucher_id, fresh=True)
    if voucher is None:
        return VoucherNotFound(f"Aucun chèque n°{voucher_id}.")
    return redeemable.refusal(voucher, today, amount_cents)


def _taking(voucher_id: int, amount_cents: int, today: date) -> ReturningUpdate[Voucher]:
    now, remaining = utcnow(), col(Voucher.balance_cents) - amount_cents
    return (
        update(Voucher)
        .where(col(Voucher.id) == voucher_id, *redeemable.condition(today, amount_cents))
        .values(
            balance_cents=remaining,
            status=case(
                (remaining == 0, VoucherStatus.redeemed.value),
                else_=VoucherStatus.partially_redeemed.value,
            ),
            redeemed_at=case((remaining == 0, now), else_=col(Voucher.redeemed_at)),
            updated_at=now,
        )
        .returning(Voucher)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


async def take_amount(
    session: AsyncSession, voucher_id: int, amount_cents: int, today: date
) -> Voucher:
    """Redeem ``amount_cents`` (the whole balance or part of it) in ONE conditional UPDATE:
    whatever the concurrency, a cheque is never overdrawn and never redeemed twice.
    ``today`` is the day in Paris (validity.paris_today)."""
    if amount_cents <= 0:
        raise InvalidAmount()
    for _ in range(ATTEMPTS):
        taken = await session.execute(_taking(voucher_id, amount_cents, today))
        if (voucher := taken.scalar_one_or_none()) is not None:
            old_balance = voucher.balance_cents + amount_cents
            before = history.state(
                history.spendable_status(old_balance, voucher.amount_cents), old_balance
            )
            history.record(session, voucher, "redeemed", before, amount_cents=amount_cents)
            return voucher
        refusal = await _why_not_taken(session, voucher_id, amount_cents, today)
        if refusal is not None:
            raise refusal
    raise Conflict(CHANGED)


async def give_back(session: AsyncSession, voucher_id: int, amount_cents: int) -> Voucher:
    """Undo a redemption of that amount (before the cheque is paid)."""
    if amount_cents <= 0:
        raise InvalidAmount()
    restored = col(Voucher.balance_cents) + amount_cents
    statement = (
        update(Voucher)
        .where(
            col(Voucher.id) == voucher_id,
            col(Voucher.status).in_(REDEEMED),
            restored <= col(Voucher.amount_cents),
        )
        .values(
            balance_cents=restored,
            status=case(
                (restored == col(Voucher.amount_cents), VoucherStatus.issued.value),
                else_=VoucherStatus.partially_redeemed.value,
            ),
            redeemed_at=None,
            updated_at=utcnow(),
        )
        .returning(col(Voucher.id))
        .execution_options(synchronize_session=False)
    )
    found = (await session.execute(statement)).first()
    voucher = await repository.get(session, voucher_id, fresh=True)
    if voucher is None:
        raise VoucherNotFound(f"Aucun chèque n°{voucher_id}.")
    if not found:
        if voucher.status is VoucherStatus.paid:
            raise VoucherAlreadyPaid()
        raise NothingToGiveBack(
            voucher_status=voucher.status.value, balance_cents=voucher.balance_cents
        )
    old_balance = voucher.balance_cents - amount_cents
    old_status = VoucherStatus.redeemed if old_balance == 0 else VoucherStatus.partially_redeemed
    before = history.state(old_status, old_balance)
    history.record(session, voucher, "redemption_undone", before, amount_cents=amount_cents)
    return voucher


async def _move_all(
    session: AsyncSession,
    voucher_ids: Iterable[int],
    source: VoucherStatus,
    values: dict[str, Any],
    action: str,
    refusal: type[ServiceError],
) -> list[Voucher]:
    """Move every cheque from ``source`` or none: refused cheques are named."""
    wanted = sorted(set(voucher_ids))
    statement = (
        update(Voucher)
        .where(col(Voucher.id).in_(wanted), col(Voucher.status) == source)
        .values(**values, updated_at=utcnow())
        .returning(col(Voucher.id))
        .execution_options(synchronize_session=False)
    )
    async with session.begin_nested():
        moved = set((await session.execute(statement)).scalars())
        if moved != set(wanted):
            raise refusal(voucher_ids=[i for i in wanted if i not in moved])
    vouchers = await repository.many(session, wanted)
    for voucher in vouchers:
        before = history.state(source, voucher.balance_cents)
        history.record(session, voucher, action, before)
    return vouchers


async def mark_paid(session: AsyncSession, voucher_ids: Iterable[int]) -> list[Voucher]:
    """Redeemed cheques → paid, all or none (VouchersNotPayable names the others)."""
    values = {"status": VoucherStatus.paid, "paid_at": utcnow()}
    return await _move_all(
        session, voucher_ids, VoucherStatus.redeemed, values, "paid", VouchersNotPayable
    )


async def mark_unpaid(session: AsyncSession, voucher_ids: Iterable[int]) -> list[Voucher]:
    """Paid cheques → redeemed again (a payout undone), all or none."""
    values = {"status": VoucherStatus.redeemed, "paid_at": None}
    return await _move_all(
        session, voucher_ids, VoucherStatus.paid, values, "unpaid", VouchersNotPaid
    )


@db.atomic
async def cancel(session: AsyncSession, voucher_id: int, reason: str) -> Voucher:
    """An administrator withdraws a cheque; what was not redeemed goes back to the envelope
    and the business is told why. VoucherNotCancellable says, in French, why not."""
    now = utcnow()
    statement = (
        update(Voucher)
        .where(col(Voucher.id) == voucher_id, cancellable.condition())
        .values(
            status=VoucherStatus.cancelled, cancelled_at=now, cancel_reason=reason, updated_at=now
        )
        .returning(col(Voucher.id))
        .execution_options(synchronize_session=False)
    )
    found = (await session.execute(statement)).first()
    voucher = await repository.get(session, voucher_id, fresh=True)
    if voucher is None:
        raise VoucherNotFound(f"Aucun chèque n°{voucher_id}.")
    if not found:
        raise cancellable.refusal(voucher) or Conflict(CHANGED)
    await programme_service.release_budget(session, voucher.programme_id, voucher.balance_cents)
    balance = voucher.balance_cents
    before = history.state(history.spendable_status(balance, voucher.amount_cents), balance)
    history.record(session, voucher, "cancelled", before, amount_cents=balance, reason=reason)
    await accounting.release_balance(session, voucher, "cancelled")
    programme = await programme_service.get(session, voucher.programme_id)
    await messages.tell_cancelled(session, voucher, programme, reason)
    return voucher


async def sweep_expired(session: AsyncSession, today: date) -> list[Voucher]:
    """Record as expired the spendable cheques whose last day is before ``today``, and give
    their unredeemed balance back to the envelopes."""
    now = utcnow()
    statement = (
        update(Voucher)
        .where(col(Voucher.status).in_(SPENDABLE), col(Voucher.valid_until) < today)
        .values(status=VoucherStatus.expired, expired_at=now, updated_at=now)
        .returning(col(Voucher.id))
        .execution_options(synchronize_session=False)
    )
    # Stored ids are NOT NULL; the model's `int | None` is for rows not yet flushed.
    expired = cast(list[int], list((await session.execute(statement)).scalars()))
    vouchers = await repository.many(session, expired)
    released: dict[int, int] = defaultdict(int)
    for voucher in vouchers:
        released[voucher.programme_id] += voucher.balance_cents
    for programme_id, cents in sorted(released.items()):
        await programme_service.release_budget(session, programme_id, cents)
    for voucher in vouchers:
        balance = voucher.balance_cents
        before = history.state(history.spendable_status(balance, voucher.amount_cents), balance)
        history.record(session, voucher, "expired", before, amount_cents=balance)
        await accounting.release_balance(session, voucher, "expired")
    return vouchers


async def for_application(session: AsyncSession, application_id: int) -> Voucher | None:
    """The cheque issued for an application, if any."""
    return await repository.for_application(session, application_id)


async def redeemed_by_programme(session: AsyncSession) -> dict[int, int]:
    """Cents redeemed so far from each programme's envelope, by programme id."""
    return await repository.redeemed_by_programme(session)


async def list_vouchers(
    session: AsyncSession,
    today: date,
    *,
    status: VoucherStatus | None = None,
    programme_id: int | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Voucher], int]:
    """One page of cheques (status as seen today, see Voucher.status_on) and the total;
    ``search`` is part of a code typed loosely, of a SIRET, or of a company's name."""
    filters: list[ColumnElement[bool]] = []
    if status is not None:
        filters.append(repository.seen_with_status(status, today))
    if programme_id is not None:
        filters.append(col(Voucher.programme_id) == programme_id)
    if search and search.strip():
        filters.append(_matching(search.strip()))
    return await repository.page(session, filters, (page - 1) * page_size, page_size)


MIN_CODE_PART = 4  # fewer characters of a code would match too many cheques


def _matching(text: str) -> ColumnElement[bool]:
    """The cheques whose code holds what was typed (case, spaces, dashes and the prefix
    left out), whose SIRET starts with the digits typed, or whose company's name holds it."""
    letters = codes.compact(text)
    code_part = letters if len(letters) >= MIN_CODE_PART and codes.could_be_part(letters) else None
    digits = "".join(text.split())
    siret_start = digits if digits.isdigit() else None
    return repository.matching(text, code_part, siret_start)


async def render_pdf(voucher: Voucher, programme: Programme, settings: Settings) -> bytes:
    """The cheque as an A4 PDF in French, rendered by a worker process."""
    return await pdf_workers.render(voucher, programme, settings)
