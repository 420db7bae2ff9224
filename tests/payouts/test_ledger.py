"""The ledger behind the FEC: entries booked when their event happens, reversals as new
entries, bank entries on the bank's booking date, and nothing that ever moves."""

from datetime import date, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import col

from experts import redemption as redemptions
from experts.models import Expert
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import HeadersFor, create_expert
from tests.fixtures.vouchers import create_voucher
from tests.payouts.camt_builder import StatementEntry, StatementTransaction, build_statement
from tests.payouts.conftest import redeemed
from voucher_service.core import schema
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.ledger import LedgerEntry
from voucher_service.payouts import batches, repository, statements
from voucher_service.payouts.fec import FEC_ENCODING
from voucher_service.payouts.models import PayoutTransfer
from voucher_service.vouchers import service as vouchers
from voucher_service.vouchers.models import Voucher


def cents(text: str) -> int:
    return int(text.replace(",", "")) if text else 0


async def fec_lines(
    client: AsyncClient, headers: dict[str, str], start: date, end: date
) -> list[str]:
    response = await client.get(
        "/api/v1/exports/fec.txt",
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.content.decode(FEC_ENCODING).split("\r\n")[1:-1]


def assert_balanced(lines: list[str]) -> None:
    totals: dict[tuple[str, str], int] = {}
    for row in (line.split("|") for line in lines):
        key = (row[0], row[2])
        totals[key] = totals.get(key, 0) + cents(row[11]) - cents(row[12])
    assert totals and all(total == 0 for total in totals.values()), totals


async def paid_batch(
    session: AsyncSession, settings: Settings, booked_on: date
) -> list[PayoutTransfer]:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    await batches.export_batch(session, batch.id, settings)
    transfers = await repository.transfers_of(session, batch.id)
    entries = [
        StatementEntry(
            t.amount_cents,
            booking_date=booked_on,
            transactions=[StatementTransaction(t.end_to_end_id, t.amount_cents)],
        )
        for t in transfers
    ]
    await statements.import_statement(
        session, build_statement(entries, statement_id=f"STMT-LEDGER-{batch.id}"), settings
    )
    return transfers


async def returned(
    session: AsyncSession, settings: Settings, transfer: PayoutTransfer, booked_on: date
) -> None:
    entry = StatementEntry(
        transfer.amount_cents,
        credit_debit="CRDT",
        booking_date=booked_on,
        bank_code=("PMNT", "ICDT", "RRTN"),
        transactions=[StatementTransaction(transfer.end_to_end_id, transfer.amount_cents, "AC04")],
    )
    await statements.import_statement(
        session, build_statement([entry], statement_id=f"STMT-RETURN-{transfer.id}"), settings
    )


async def test_an_export_is_never_rewritten_by_what_happens_later(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    today = paris_today()
    start, headers = today.replace(day=1), await headers_for(Role.accountant)
    transfers = await paid_batch(session, settings, today)
    unused = await create_voucher(session, settings)
    expert = await session.get(Expert, two_experts["first"].id)
    assert expert is not None
    undone = await redeemed(session, settings, expert)
    before = await fec_lines(client, headers, start, today)

    await returned(session, settings, transfers[-1], today)
    assert unused.voucher.id is not None
    await vouchers.cancel(session, unused.voucher.id, "Entreprise radiée")
    assert undone.id is not None
    await redemptions.cancel(session, expert, undone.id, settings)
    after = await fec_lines(client, headers, start, today)

    assert after[: len(before)] == before, "an exported line changed or disappeared"
    added = after[len(before) :]
    assert_balanced(added)
    labels = [line.split("|")[10] for line in added]
    assert any(label.startswith("Retour du virement") for label in labels)
    assert any(label.endswith("annulé : solde libéré") for label in labels)
    assert any(label.endswith("prestation annulée") for label in labels)
    assert_balanced(after)
    validated = [line.split("|")[15] for line in after]
    assert validated == sorted(validated), "records are not in order of validation"


async def test_a_payment_is_dated_by_the_bank_booking_date(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    new_year_eve = paris_today().replace(month=1, day=1) - timedelta(days=1)
    transfers = await paid_batch(session, settings, new_year_eve)
    headers = await headers_for(Role.accountant)
    last_year = await fec_lines(client, headers, new_year_eve.replace(day=1), new_year_eve)
    bank = [line.split("|") for line in last_year if line.startswith("BQ|")]
    pieces = {row[8] for row in bank}
    assert pieces == {t.end_to_end_id for t in transfers}
    assert {row[3] for row in bank} == {new_year_eve.strftime("%Y%m%d")}
    assert {row[15] for row in bank} == {paris_today().strftime("%Y%m%d")}
    assert_balanced(last_year)


async def test_an_expired_cheque_releases_only_its_unused_balance(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    expert = await session.get(Expert, two_experts["first"].id)
    assert expert is not None
    partial = await redeemed(session, settings, expert, amount=150_000)
    voucher = await session.get(Voucher, partial.voucher_id)
    assert voucher is not None
    voucher.valid_from = paris_today() - timedelta(days=30)
    voucher.valid_until = paris_today() - timedelta(days=1)
    await session.flush()
    await vouchers.sweep_expired(session, paris_today())
    source = f"voucher:{voucher.id}:expired"
    query = select(LedgerEntry).where(col(LedgerEntry.source) == source)
    release = (await session.execute(query)).scalar_one()
    assert release.amount_cents == voucher.amount_cents - 150_000
    assert (release.debit_account, release.credit_account) == ("programme", "commitment")


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_the_database_refuses_to_change_a_booked_entry(
    session: AsyncSession, settings: Settings, change: str
) -> None:
    await create_voucher(session, settings)
    await session.flush()
    statement = (
        update(LedgerEntry).values(amount_cents=1) if change == "update" else delete(LedgerEntry)
    )
    with pytest.raises(DBAPIError, match="never changed or deleted"):
        async with session.begin_nested():
            await session.execute(statement)


async def test_the_migration_books_what_was_recorded_before_the_ledger(
    empty_database_url: str,
) -> None:
    """Entries of a database that had no ledger: downgrading drops the ledger, upgrading
    books again, from the recorded rows, exactly what the live code had booked."""
    engine = create_async_engine(empty_database_url)
    settings = make_settings(empty_database_url)
    try:
        await schema.upgrade(engine)
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            expert = await create_expert(session)
            for amount in (None, 50_000):
                await redeemed(session, settings, expert, amount)
            undone = await redeemed(session, settings, expert)
            assert undone.id is not None
            await redemptions.cancel(session, expert, undone.id, settings)
            unused = await create_voucher(session, settings)
            assert unused.voucher.id is not None
            await vouchers.cancel(session, unused.voucher.id, "Doublon")
            await paid_batch(session, settings, paris_today())
            await session.commit()
            booked = await ledger_rows(session)
        await schema.downgrade(engine, "0011")
        await schema.upgrade(engine)
        async with async_sessionmaker(engine)() as session:
            assert await ledger_rows(session) == booked
    finally:
        await engine.dispose()


async def ledger_rows(session: AsyncSession) -> list[tuple[object, ...]]:
    entries = (await session.execute(select(LedgerEntry))).scalars()
    rows = [
        (
            e.source, e.journal, e.entry_date, e.piece_ref, e.label, e.amount_cents,
            e.debit_account, e.debit_aux, e.debit_aux_label,
            e.credit_account, e.credit_aux, e.credit_aux_label, e.reverses_id is None,
        )
        for e in entries
    ]  # fmt: skip
    assert len(rows) >= 10
    return sorted(rows)
