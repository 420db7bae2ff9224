"""The statement guards, as the accountant meets them: a transfer the bank books again is
never settled twice, a returned one never returned (nor settled) again. Real camt.053
files go through the API; the answer names each line left aside and why, and the money,
the ledger, the audit trail and the expert's e-mail move once."""

from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import PayoutState
from notifications.models import Notification
from tests.fixtures.factories import HeadersFor
from tests.payouts.camt_builder import StatementEntry, StatementTransaction, build_statement
from tests.payouts.test_statement_matching import exported, paid, returned, states, transfers
from tests.web.test_notifications_admin import log_in
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.ledger import Account, LedgerEntry
from voucher_service.payouts.models import (
    BankStatementImport,
    BatchStatus,
    PayoutBatch,
    PayoutTransfer,
    TransferStatus,
)
from voucher_service.vouchers.models import Voucher, VoucherStatus

NNBSP, NBSP = "\u202f", "\u00a0"


async def upload(client: AsyncClient, headers: dict[str, str], data: bytes) -> dict[str, Any]:
    files = {"file": ("releve.xml", data, "application/xml")}
    response = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert response.status_code == 200, response.text
    statements: list[dict[str, Any]] = response.json()["statements"]
    [statement] = statements
    return statement


def notes(lines: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(line["entry_ref"], line["note"]) for line in lines]


async def ledger_of(session: AsyncSession, transfer: PayoutTransfer) -> list[tuple[Any, ...]]:
    """What the transfer booked: (source, amount, debited account, credited account)."""
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.source.like(f"transfer:{transfer.id}%"))  # type: ignore[attr-defined]
        .order_by(LedgerEntry.id)  # type: ignore[arg-type]
    )
    return [
        (e.source, e.amount_cents, e.debit_account, e.credit_account)
        for e in (await session.execute(query)).scalars()
    ]


async def audited(session: AsyncSession, action: str, transfer: PayoutTransfer) -> int:
    query = select(func.count()).where(
        AuditEvent.action == action,  # type: ignore[arg-type]
        AuditEvent.entity_id == str(transfer.id),  # type: ignore[arg-type]
    )
    return (await session.execute(query)).scalar_one()


async def payout_mails(session: AsyncSession, email: str) -> int:
    query = select(func.count()).where(
        Notification.event == "payout_sent",  # type: ignore[arg-type]
        Notification.recipient == email,  # type: ignore[arg-type]
    )
    return (await session.execute(query)).scalar_one()


async def voucher_of(session: AsyncSession, voucher_id: int) -> VoucherStatus:
    voucher = await session.get(Voucher, voucher_id, populate_existing=True)
    assert voucher is not None
    return voucher.status


async def test_a_transfer_the_bank_books_again_is_never_settled_twice(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    batch = await exported(session, settings)
    big, small = await transfers(session, batch)
    headers = await headers_for(Role.accountant)
    first = build_statement([paid(big), paid(big)], statement_id="STMT-GUARD-SETTLE-1")

    answer = await upload(client, headers, first)
    assert answer["settled"] == [big.end_to_end_id]
    assert notes(answer["matched"]) == [("PAY", f"Réglé : {big.end_to_end_id}")]
    assert notes(answer["unmatched"]) == [("PAY", f"{big.end_to_end_id} déjà réglé")]

    later = build_statement(
        [
            paid(big),
            StatementEntry(batch.total_cents, entry_ref="LOT", batch_message_id=batch.message_id),
        ],
        statement_id="STMT-GUARD-SETTLE-2",
        version="08",
    )
    answer = await upload(client, headers, later)
    assert answer["settled"] == [] and answer["matched"] == []
    total, pending = f"4{NNBSP}500,00{NBSP}€", f"2{NNBSP}000,00{NBSP}€"
    assert notes(answer["unmatched"]) == [
        ("PAY", f"{big.end_to_end_id} déjà réglé"),
        (
            "LOT",
            f"Lot {batch.message_id} : total différent ({total} au lieu de {pending} en attente)",
        ),
    ]

    again = await upload(client, headers, first)
    assert again["already_imported"] is True and again["settled"] == []
    assert len(again["matched"]) == 1 and len(again["unmatched"]) == 1

    assert await ledger_of(session, big) == [
        (f"transfer:{big.id}", 250_000, Account.supplier, Account.bank)
    ]
    assert await audited(session, "payout_transfer.settled", big) == 1
    assert await payout_mails(session, two_experts["first"].email) == 1
    r1, r2 = two_experts["r1"], two_experts["r2"]
    assert await states(session, big, small, r1, r2) == [
        TransferStatus.settled,
        TransferStatus.pending,
        PayoutState.paid,
        PayoutState.paid,
    ]
    assert await voucher_of(session, r1.voucher_id) is VoucherStatus.paid
    refreshed = await session.get(PayoutBatch, batch.id, populate_existing=True)
    assert refreshed is not None and refreshed.status is BatchStatus.partially_settled


async def test_a_returned_transfer_is_never_returned_nor_settled_again(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    _, small = await transfers(session, await exported(session, settings))
    headers = await headers_for(Role.accountant)
    await upload(client, headers, build_statement([paid(small)], statement_id="STMT-GUARD-RET-1"))
    answer = await upload(
        client, headers, build_statement([returned(small)], statement_id="STMT-GUARD-RET-2")
    )
    assert answer["returned"] == [small.end_to_end_id]
    assert notes(answer["matched"]) == [("RET", f"Retour (AC04) : {small.end_to_end_id}")]

    rejected = StatementEntry(
        small.amount_cents,
        status="RJCT",
        booking_date=None,
        entry_ref="RJCT",
        transactions=[StatementTransaction(small.end_to_end_id, return_reason="AC04")],
    )
    entries = [returned(small), paid(small), rejected]
    answer = await upload(
        client, headers, build_statement(entries, statement_id="STMT-GUARD-RET-3", version="04")
    )
    assert answer["returned"] == [] and answer["settled"] == [] and answer["matched"] == []
    assert notes(answer["unmatched"]) == [
        (ref, f"{small.end_to_end_id} déjà retourné") for ref in ("RET", "PAY", "RJCT")
    ]

    assert await ledger_of(session, small) == [
        (f"transfer:{small.id}", 200_000, Account.supplier, Account.bank),
        (f"transfer:{small.id}:returned", 200_000, Account.bank, Account.supplier),
    ]
    assert await audited(session, "payout_transfer.settled", small) == 1
    assert await audited(session, "payout_transfer.returned", small) == 1
    assert await payout_mails(session, two_experts["second"].email) == 1
    r3 = two_experts["r3"]
    assert await states(session, small, r3) == [TransferStatus.returned, PayoutState.unpaid]
    assert small.return_reason == "AC04"
    assert await voucher_of(session, r3.voucher_id) is VoucherStatus.redeemed


async def test_the_statement_page_shows_the_lines_left_aside_and_why(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    big, _ = await transfers(session, await exported(session, settings))
    headers = await headers_for(Role.accountant)
    data = build_statement([paid(big), paid(big)], statement_id="STMT-GUARD-PAGE")
    await upload(client, headers, data)
    query = select(col(BankStatementImport.id)).where(
        col(BankStatementImport.statement_id) == "STMT-GUARD-PAGE"
    )
    import_id = (await session.execute(query)).scalar_one()
    await log_in(client, session, settings, Role.accountant)
    page = await client.get(f"/accounting/statements/{import_id}", headers={"accept": "text/html"})
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "<dt>Lignes rapprochées</dt><dd>1</dd>" in text
    assert "<dt>Lignes non rapprochées</dt><dd>1</dd>" in text
    assert f"Réglé : {big.end_to_end_id}" in text
    assert f"{big.end_to_end_id} déjà réglé" in text


async def test_a_camt_054_notification_is_refused_and_books_nothing(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    """A debit notification (camt.054) names the same transfers, but only statements
    settle them: the accountant is told which files are read."""
    big, _ = await transfers(session, await exported(session, settings))
    statement = build_statement([paid(big)], statement_id="STMT-GUARD-054")
    notification = (
        statement.replace(b"camt.053.001.02", b"camt.054.001.02")
        .replace(b"BkToCstmrStmt", b"BkToCstmrDbtCdtNtfctn")
        .replace(b"<Stmt>", b"<Ntfctn>")
        .replace(b"</Stmt>", b"</Ntfctn>")
    )
    files = {"file": ("avis.xml", notification, "application/xml")}
    headers = await headers_for(Role.accountant)
    response = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_statement"
    assert "Ce n'est pas un relevé camt.053" in response.json()["detail"]
    assert await ledger_of(session, big) == []
    assert await states(session, big) == [TransferStatus.pending]
