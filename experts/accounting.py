"""What a redemption books in the ledger: the expense owed to the expert when the cheque
is redeemed, and its mirror when the expert undoes it."""

from sqlalchemy.ext.asyncio import AsyncSession

from experts.models import Expert, Redemption
from voucher_service.core import clock, ledger
from voucher_service.core.ledger import Account, Journal


def expert_account(expert_id: int) -> str:
    """The expert's auxiliary supplier account."""
    return f"E{expert_id:06d}"


def _source(redemption: Redemption) -> str:
    return f"redemption:{redemption.id}"


def book_expense(
    session: AsyncSession, redemption: Redemption, expert: Expert, voucher_code: str
) -> None:
    ledger.book(
        session,
        _source(redemption),
        Journal.expenses,
        clock.paris_today(redemption.redeemed_at),
        redemption.invoice_reference or voucher_code,
        f"Chèque {voucher_code} prestation",
        redemption.amount_cents,
        debit=ledger.side(Account.expense),
        credit=ledger.side(
            Account.supplier, expert_account(redemption.expert_id), expert.legal_name
        ),
    )


async def reverse_expense(session: AsyncSession, redemption: Redemption, voucher_code: str) -> None:
    await ledger.reverse(
        session,
        _source(redemption),
        "cancelled",
        clock.paris_today(redemption.cancelled_at),
        f"Chèque {voucher_code} prestation annulée",
    )
