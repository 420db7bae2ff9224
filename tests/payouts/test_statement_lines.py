"""What the accountant reads for each line of an imported statement: the exact note of
every kind of line the matcher leaves aside, and of those it settles or returns."""

from datetime import date
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.fixtures.factories import HeadersFor
from tests.payouts.camt_builder import StatementEntry, StatementTransaction, build_statement
from tests.payouts.conftest import redeemed
from tests.payouts.test_statement_guards import ledger_of, upload
from tests.payouts.test_statement_matching import OTHER_IBAN, exported, transfers
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.ledger import Account, LedgerEntry
from voucher_service.payouts import batches, repository

E, N = "\u00a0€", "\u202f"
RETURN_CODE = ("PMNT", "ICDT", "RRTN")


def tx(e2e: str, cents: int | None = None, reason: str | None = None) -> StatementTransaction:
    return StatementTransaction(e2e, cents, return_reason=reason)


async def test_every_line_says_what_became_of_it(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    batch = await exported(session, settings)
    big, small = await transfers(session, batch)
    await redeemed(session, settings, two_experts["first"])
    dropped = await batches.create_batch(session, paris_today())
    [gone] = await repository.transfers_of(session, dropped.id)  # type: ignore[arg-type]
    await batches.cancel_batch(session, dropped.id)  # type: ignore[arg-type]
    b, s, total = big.end_to_end_id, small.end_to_end_id, batch.total_cents
    fees_ref = "FRAIS-TENUE-DE-COMPTE-MARS-2027-REGION-SUD"
    entries = [
        StatementEntry(big.amount_cents, entry_ref="L01", currency="USD", transactions=[tx(b)]),
        StatementEntry(big.amount_cents, entry_ref="L02", reversal=True, transactions=[tx(b)]),
        StatementEntry(
            5_000, entry_ref="L03", credit_debit="CRDT", bank_code=("PMNT", "RCDT", "ESCT")
        ),
        StatementEntry(big.amount_cents, entry_ref="L04", status="PDNG", transactions=[tx(b)]),
        StatementEntry(1_250, entry_ref=fees_ref, bank_code=("ACMT", "MDOP", "CHRG")),
        StatementEntry(total, entry_ref="L06", batch_message_id="LOT-X", batch_payment_id="PMT-Y"),
        StatementEntry(gone.amount_cents, entry_ref="L07", batch_message_id=dropped.message_id),
        StatementEntry(3_000, entry_ref="L08", transactions=[tx("MCD-B999-E999", 3_000)]),
        StatementEntry(101, entry_ref="L09", transactions=[tx(b, 1), tx("MCD-NOPE", 100)]),
        StatementEntry(2 * big.amount_cents, entry_ref="L10", transactions=[tx(b), tx(b)]),
        StatementEntry(1, entry_ref="L11", transactions=[tx(b), tx(s)]),
        StatementEntry(total, entry_ref="L12", batch_payment_id=batch.message_id, batch_count=3),
        StatementEntry(total - 1, entry_ref="L13", batch_message_id=batch.message_id),
        StatementEntry(
            gone.amount_cents, entry_ref="L14", status="RJCT", transactions=[tx(gone.end_to_end_id)]
        ),
        StatementEntry(total, entry_ref="L15", transactions=[tx(b), tx(s)]),
        StatementEntry(
            small.amount_cents,
            entry_ref="L16",
            credit_debit="CRDT",
            bank_code=RETURN_CODE,
            booking_date=date(2027, 3, 5),
            transactions=[tx(s, small.amount_cents)],
        ),
    ]
    headers = await headers_for(Role.accountant)
    answer = await upload(client, headers, build_statement(entries, statement_id="STMT-LINES"))
    lines = sorted(answer["matched"] + answer["unmatched"], key=lambda line: line["entry_ref"])
    seen = [(line["entry_ref"], line["matched"], line["note"]) for line in lines]
    assert seen == sorted(
        [
            ("L01", False, "Écriture en USD : seuls les euros sont rapprochés"),
            ("L02", False, "Retour non pris en compte (DBIT BOOK)"),
            ("L03", False, "Hors virements de paiement (CRDT BOOK)"),
            ("L04", False, "Hors virements de paiement (DBIT PDNG)"),
            (fees_ref[:35], False, "Aucun virement correspondant"),
            ("L06", False, "Lot LOT-X / PMT-Y inconnu"),
            ("L07", False, f"Lot {dropped.message_id} annulé"),
            ("L08", False, "MCD-B999-E999 inconnu"),
            ("L09", False, f"{b} : montant 0,01{E} au lieu de 2{N}500,00{E}; MCD-NOPE inconnu"),
            ("L10", False, "Un virement est nommé deux fois dans l'écriture"),
            (
                "L11",
                False,
                f"Montant de l'écriture 0,01{E} différent du total des virements nommés "
                f"4{N}500,00{E}",
            ),
            ("L12", False, f"Lot {batch.message_id} : 3 virements au lieu de 2"),
            (
                "L13",
                False,
                f"Lot {batch.message_id} : total différent (4{N}499,99{E} au lieu de "
                f"4{N}500,00{E} en attente)",
            ),
            ("L14", False, f"{gone.end_to_end_id} annulé avec son lot"),
            ("L15", True, f"Réglé : {b}, {s}"),
            ("L16", True, f"Retour (BOOK) : {s}"),
        ]
    )
    by_ref = {line["entry_ref"]: line for line in lines}
    assert [by_ref[r]["matched_transfer_id"] for r in ("L15", "L16")] == [None, small.id]
    assert [by_ref[r]["amount_cents"] for r in ("L01", "L03", fees_ref[:35])] == [
        big.amount_cents,
        5_000,
        1_250,
    ]
    assert [by_ref[r]["credit_debit"] for r in ("L02", "L03")] == ["DBIT", "CRDT"]
    assert (answer["settled"], answer["returned"]) == ([b, s], [s])
    shown = await client.get(f"/api/v1/payout-batches/{batch.id}", headers=headers)
    by_id = {t["end_to_end_id"]: t for t in shown.json()["transfers"]}
    assert by_id[b]["status"] == "settled" and by_id[b]["settled_at"] is not None
    assert (by_id[s]["status"], by_id[s]["return_reason"]) == ("returned", None)
    assert shown.json()["status"] == "partially_settled"
    assert await ledger_of(session, small) == [
        (f"transfer:{small.id}", 200_000, Account.supplier, Account.bank),
        (f"transfer:{small.id}:returned", 200_000, Account.bank, Account.supplier),
    ]


async def test_another_accounts_statement_says_whose_it_is(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    big, _ = await transfers(session, await exported(session, settings))
    entry = StatementEntry(big.amount_cents, entry_ref="X", transactions=[tx(big.end_to_end_id)])
    headers = await headers_for(Role.accountant)
    data = build_statement([entry], statement_id="STMT-LINES-OTHER", iban=OTHER_IBAN)
    answer = await upload(client, headers, data)
    assert [line["note"] for line in answer["unmatched"]] == [
        f"Relevé du compte {OTHER_IBAN}, qui n'est pas le compte de paiement des experts : "
        "rien n'est rapproché"
    ]


async def test_a_batch_booking_settles_that_batch_only(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    older = await exported(session, settings)
    await redeemed(session, settings, two_experts["second"], amount=30_000)
    newer = await exported(session, settings)
    [paid] = await repository.transfers_of(session, newer.id)  # type: ignore[arg-type]
    entry = StatementEntry(30_000, entry_ref="LOT", batch_message_id=newer.message_id)
    headers = await headers_for(Role.accountant)
    answer = await upload(client, headers, build_statement([entry], statement_id="STMT-LOT"))
    assert answer["settled"] == [paid.end_to_end_id]
    assert [line["note"] for line in answer["matched"]] == [f"Lot {newer.message_id} réglé"]
    assert {t.status.value for t in await transfers(session, older)} == {"pending"}


async def test_a_return_without_a_booking_date_is_booked_on_the_day_it_is_imported(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    _, small = await transfers(session, await exported(session, settings))
    s = small.end_to_end_id
    back = StatementEntry(
        small.amount_cents,
        credit_debit="CRDT",
        entry_ref="RET",
        bank_code=RETURN_CODE,
        booking_date=None,
        transactions=[tx(s, small.amount_cents, "AC04")],
    )
    pay = StatementEntry(small.amount_cents, entry_ref="PAY", transactions=[tx(s)])
    headers = await headers_for(Role.accountant)
    answer = await upload(client, headers, build_statement([pay, back], statement_id="STMT-NODATE"))
    assert (answer["settled"], answer["returned"]) == ([s], [s])
    query = select(col(LedgerEntry.entry_date)).where(
        col(LedgerEntry.source) == f"transfer:{small.id}:returned"
    )
    assert (await session.execute(query)).scalar_one() == paris_today()


async def test_one_credit_returning_two_transfers_keeps_each_ones_reason(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    batch = await exported(session, settings)
    big, small = await transfers(session, batch)
    b, s = big.end_to_end_id, small.end_to_end_id
    back = StatementEntry(
        batch.total_cents,
        credit_debit="CRDT",
        entry_ref="RET",
        bank_code=RETURN_CODE,
        transactions=[tx(b, big.amount_cents, "AC04"), tx(s, small.amount_cents, "AM04")],
    )
    nothing = StatementEntry(1_000, entry_ref="RJCT", status="RJCT", booking_date=None)
    headers = await headers_for(Role.accountant)
    answer = await upload(
        client, headers, build_statement([back, nothing], statement_id="STMT-2RET")
    )
    assert answer["returned"] == [b, s]
    assert [line["note"] for line in answer["matched"]] == [f"Retour (AC04) : {b}, {s}"]
    assert [line["note"] for line in answer["unmatched"]] == ["Aucun virement correspondant"]
    shown = await client.get(f"/api/v1/payout-batches/{batch.id}", headers=headers)
    reasons = {t["end_to_end_id"]: t["return_reason"] for t in shown.json()["transfers"]}
    assert reasons == {b: "AC04", s: "AM04"}
