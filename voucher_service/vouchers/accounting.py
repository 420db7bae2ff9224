"""What a cheque books in the ledger: its amount committed on the programme when issued,
its unused balance released when it is cancelled or expires."""

from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core import clock, ledger
from voucher_service.core.ledger import Account, Journal
from voucher_service.vouchers.models import Voucher


def _source(voucher: Voucher) -> str:
    return f"voucher:{voucher.id}"


def book_commitment(session: AsyncSession, voucher: Voucher, programme_name: str) -> None:
    ledger.book(
        session,
        _source(voucher),
        Journal.commitments,
        clock.paris_today(voucher.issued_at),
        voucher.code,
        f"Chèque {voucher.code} {voucher.company_name}",
        voucher.amount_cents,
        debit=ledger.side(Account.commitment),
        credit=ledger.side(Account.programme, f"P{voucher.programme_id:06d}", programme_name),
    )


async def release_balance(session: AsyncSession, voucher: Voucher, reason: str) -> None:
    """The unused balance of a cancelled or expired cheque leaves the commitments."""
    if voucher.balance_cents <= 0:
        return
    word = {"cancelled": "annulé", "expired": "expiré"}[reason]
    await ledger.reverse(
        session,
        _source(voucher),
        reason,
        clock.paris_today(),
        f"Chèque {voucher.code} {word} : solde libéré",
        voucher.balance_cents,
    )
