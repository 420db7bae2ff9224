"""What a transfer books in the ledger: the expert paid on the day the bank booked the
debit, and its mirror on the day the bank booked the return."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from experts.accounting import expert_account
from voucher_service.core import ledger
from voucher_service.core.ledger import Account, Journal
from voucher_service.payouts.models import PayoutTransfer


def _source(transfer: PayoutTransfer) -> str:
    return f"transfer:{transfer.id}"


def book_payment(session: AsyncSession, transfer: PayoutTransfer, booked_on: date) -> None:
    ledger.book(
        session,
        _source(transfer),
        Journal.bank,
        booked_on,
        transfer.end_to_end_id,
        f"Virement {transfer.end_to_end_id}",
        transfer.amount_cents,
        debit=ledger.side(
            Account.supplier, expert_account(transfer.expert_id), transfer.creditor_name
        ),
        credit=ledger.side(Account.bank),
    )


async def reverse_payment(session: AsyncSession, transfer: PayoutTransfer, booked_on: date) -> None:
    """A returned transfer that had been booked as paid: the supplier is owed again."""
    await ledger.reverse(
        session,
        _source(transfer),
        "returned",
        booked_on,
        f"Retour du virement {transfer.end_to_end_id}",
    )
