"""Which bank-statement entries settle or return which transfers, on both databases: only
when amount, direction, state, account and currency agree."""

from datetime import date
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import PayoutState, Redemption
from notifications.models import Notification
from tests.fixtures.factories import HeadersFor
from tests.payouts.camt_builder import (
    REGION_IBAN,
    StatementEntry,
    StatementTransaction,
    build_statement,
)
from tests.web.test_notifications_admin import csrf_of, log_in
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.payouts import batches, repository, statements
from voucher_service.payouts.models import PayoutBatch, PayoutTransfer, TransferStatus
from voucher_service.payouts.statements import ImportedStatement


async def exported(session: AsyncSession, settings: Settings) -> PayoutBatch:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    await batches.export_batch(session, batch.id, settings)
    return batch


async def transfers(session: AsyncSession, batch: PayoutBatch) -> list[PayoutTransfer]:
    """The batch's transfers, largest first: 2,500 € (two cheques), then 2,000 €."""
    assert batch.id is not None
    found = await repository.transfers_of(session, batch.id)
    return sorted(found, key=lambda t: -t.amount_cents)


async def imported(
    session: AsyncSession,
    settings: Settings,
    entries: list[StatementEntry],
    statement_id: str,
    **options: Any,
) -> ImportedStatement:
    data = build_statement(entries, statement_id=statement_id, **options)
    [result] = await statements.import_statement(session, data, settings)
    return result


def paid(transfer: PayoutTransfer, amount: int | None = None) -> StatementEntry:
    """The booked debit of one transfer, by default of its own amount."""
    cents = transfer.amount_cents if amount is None else amount
    return StatementEntry(
        cents, entry_ref="PAY", transactions=[StatementTransaction(transfer.end_to_end_id, cents)]
    )


def returned(transfer: PayoutTransfer, amount: int | None = None, **options: Any) -> StatementEntry:
    """The credit of a return (AC04, account closed) of one transfer."""
    cents = transfer.amount_cents if amount is None else amount
    return StatementEntry(
        cents,
        credit_debit=options.pop("credit_debit", "CRDT"),
        entry_ref="RET",
        bank_code=("PMNT", "ICDT", "RRTN"),
        booking_date=date(2027, 3, 4),
        transactions=[StatementTransaction(transfer.end_to_end_id, cents, return_reason="AC04")],
        **options,
    )


async def states(
    session: AsyncSession, *rows: PayoutTransfer | Redemption
) -> list[TransferStatus | PayoutState]:
    for row in rows:
        await session.refresh(row)
    return [row.status if isinstance(row, PayoutTransfer) else row.payout_state for row in rows]


async def payout_mails(session: AsyncSession) -> int:
    query = select(func.count()).where(col(Notification.event) == "payout_sent")
    return (await session.execute(query)).scalar_one()


class TestAmounts:
    async def test_named_transfers_without_amounts_settle_only_for_their_total(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, small = await transfers(session, await exported(session, settings))
        names = [StatementTransaction(big.end_to_end_id), StatementTransaction(small.end_to_end_id)]
        cheap = await imported(
            session,
            settings,
            [StatementEntry(1, entry_ref="CENT", transactions=names)],
            "STMT-AMT-1",
        )
        assert cheap.settled == [] and not cheap.lines[0].matched
        assert "Montant de l'écriture" in cheap.lines[0].note
        assert await states(session, big, small) == [TransferStatus.pending] * 2
        total = big.amount_cents + small.amount_cents
        whole = await imported(
            session,
            settings,
            [StatementEntry(total, entry_ref="ALL", transactions=names)],
            "STMT-AMT-2",
        )
        assert set(whole.settled) == {big.end_to_end_id, small.end_to_end_id}
        assert whole.lines[0].matched and whole.lines[0].matched_transfer_id is None

    async def test_a_transfer_named_twice_in_one_entry_settles_nothing(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, _ = await transfers(session, await exported(session, settings))
        twice = [StatementTransaction(big.end_to_end_id)] * 2
        entry = StatementEntry(2 * big.amount_cents, transactions=twice)
        result = await imported(session, settings, [entry], "STMT-AMT-3")
        assert result.settled == [] and "deux fois" in result.lines[0].note

    async def test_a_one_cent_return_does_not_undo_a_2000_euro_transfer(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        _, small = await transfers(session, await exported(session, settings))
        assert small.amount_cents == 200_000
        await imported(session, settings, [paid(small)], "STMT-RET-1")
        result = await imported(session, settings, [returned(small, amount=1)], "STMT-RET-2")
        assert result.returned == [] and not result.lines[0].matched
        assert "montant 0,01" in result.lines[0].note
        assert await states(session, small, two_experts["r3"]) == [
            TransferStatus.settled,
            PayoutState.paid,
        ]


class TestDirection:
    async def test_a_credit_naming_a_transfer_does_not_settle_it(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, _ = await transfers(session, await exported(session, settings))
        credit = paid(big)
        credit.credit_debit = "CRDT"
        result = await imported(session, settings, [credit], "STMT-DIR-1")
        assert result.settled == [] and "Hors virements" in result.lines[0].note

    async def test_a_debit_marked_as_reversal_returns_nothing(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, _ = await transfers(session, await exported(session, settings))
        await imported(session, settings, [paid(big)], "STMT-DIR-2")
        result = await imported(
            session, settings, [returned(big, credit_debit="DBIT", reversal=True)], "STMT-DIR-3"
        )
        assert result.returned == [] and not result.lines[0].matched
        assert await states(session, big, two_experts["r1"]) == [
            TransferStatus.settled,
            PayoutState.paid,
        ]

    async def test_a_return_before_its_debit_is_seen_returns_the_pending_transfer(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        _, small = await transfers(session, await exported(session, settings))
        result = await imported(session, settings, [returned(small)], "STMT-DIR-4")
        assert result.returned == [small.end_to_end_id]
        assert await states(session, small, two_experts["r3"]) == [
            TransferStatus.returned,
            PayoutState.unpaid,
        ]
        late = await imported(session, settings, [paid(small)], "STMT-DIR-5")
        assert late.settled == [] and "déjà retourné" in late.lines[0].note


class TestGuards:
    async def test_a_transfer_is_never_settled_twice(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, _ = await transfers(session, await exported(session, settings))
        first = await imported(session, settings, [paid(big), paid(big)], "STMT-TWICE-1")
        assert first.settled == [big.end_to_end_id]
        assert [line.matched for line in first.lines] == [True, False]
        assert "déjà réglé" in first.lines[1].note
        again = await imported(session, settings, [paid(big)], "STMT-TWICE-2")
        assert again.settled == [] and "déjà réglé" in again.lines[0].note
        assert await payout_mails(session) == 1

    async def test_a_returned_transfer_is_never_returned_twice(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        _, small = await transfers(session, await exported(session, settings))
        await imported(session, settings, [paid(small)], "STMT-RTWICE-1")
        first = await imported(session, settings, [returned(small)], "STMT-RTWICE-2")
        assert first.returned == [small.end_to_end_id]
        again = await imported(session, settings, [returned(small)], "STMT-RTWICE-3")
        assert again.returned == [] and not again.lines[0].matched
        assert "déjà retourné" in again.lines[0].note

    async def test_a_rejection_returns_only_a_pending_transfer(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, small = await transfers(session, await exported(session, settings))
        await imported(session, settings, [paid(big)], "STMT-RJCT-1")
        rejections = [
            StatementEntry(
                t.amount_cents,
                status="RJCT",
                booking_date=None,
                entry_ref=t.end_to_end_id,
                transactions=[StatementTransaction(t.end_to_end_id, return_reason="AC04")],
            )
            for t in (big, small)
        ]
        result = await imported(session, settings, rejections, "STMT-RJCT-2")
        assert result.returned == [small.end_to_end_id]
        assert "déjà réglé" in result.lines[0].note
        assert await states(session, big, small) == [
            TransferStatus.settled,
            TransferStatus.returned,
        ]


OTHER_IBAN = "DE89370400440532013000"


class TestAccountAndCurrency:
    async def test_a_statement_of_another_account_settles_nothing_and_says_so(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, _ = await transfers(session, await exported(session, settings))
        result = await imported(session, settings, [paid(big)], "STMT-ACCT-1", iban=OTHER_IBAN)
        assert (result.account_iban, result.paying_account) == (OTHER_IBAN, False)
        assert result.settled == [] and not result.lines[0].matched
        assert OTHER_IBAN in result.lines[0].note and "compte de paiement" in result.lines[0].note
        assert await states(session, big) == [TransferStatus.pending]
        again = await imported(session, settings, [paid(big)], "STMT-ACCT-1", iban=OTHER_IBAN)
        assert again.already_imported and again.paying_account is False

    async def test_the_paying_account_is_recognised_however_it_is_written(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, _ = await transfers(session, await exported(session, settings))
        spaced = " ".join(REGION_IBAN[i : i + 4] for i in range(0, len(REGION_IBAN), 4))
        result = await imported(session, settings, [paid(big)], "STMT-ACCT-2", iban=spaced)
        assert (result.account_iban, result.paying_account) == (REGION_IBAN, True)
        assert result.settled == [big.end_to_end_id]

    async def test_an_entry_in_another_currency_settles_nothing(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, small = await transfers(session, await exported(session, settings))
        await imported(session, settings, [paid(small)], "STMT-CCY-1")
        foreign = [paid(big), returned(small)]
        for entry in foreign:
            entry.currency = "USD"
        result = await imported(session, settings, foreign, "STMT-CCY-2")
        assert result.settled == [] and result.returned == []
        assert all("USD" in line.note and not line.matched for line in result.lines)
        assert await states(session, big, small) == [TransferStatus.pending, TransferStatus.settled]


async def test_the_api_reports_a_statement_of_another_account(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    big, _ = await transfers(session, await exported(session, settings))
    data = build_statement([paid(big)], statement_id="STMT-ACCT-API", iban=OTHER_IBAN)
    files = {"file": ("releve.xml", data, "application/xml")}
    headers = await headers_for(Role.accountant)
    response = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert response.status_code == 200, response.text
    [statement] = response.json()["statements"]
    assert statement["account_iban"] == OTHER_IBAN and statement["paying_account"] is False
    assert statement["settled"] == [] and len(statement["unmatched"]) == 1


class TestStatementIdentity:
    async def test_another_accounts_statement_with_the_same_id_does_not_hide_ours(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, _ = await transfers(session, await exported(session, settings))
        theirs = await imported(session, settings, [paid(big)], "STMT-SAME", iban=OTHER_IBAN)
        assert not theirs.already_imported and theirs.settled == []
        ours = await imported(session, settings, [paid(big)], "STMT-SAME")
        assert not ours.already_imported and ours.settled == [big.end_to_end_id]
        again = await imported(session, settings, [paid(big)], "STMT-SAME")
        assert again.already_imported and again.settled == []
        assert [line.matched for line in again.lines] == [True]
        assert await payout_mails(session) == 1


class TestCancelledBatch:
    async def test_a_cancelled_batch_settles_nothing(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        batch = await batches.create_batch(session, paris_today())
        big, small = await transfers(session, batch)
        assert batch.id is not None
        await batches.cancel_batch(session, batch.id)
        assert await states(session, big, small) == [TransferStatus.cancelled] * 2
        by_batch = StatementEntry(batch.total_cents, batch_message_id=batch.message_id)
        result = await imported(session, settings, [paid(big), by_batch], "STMT-CANCEL")
        assert result.settled == [] and not any(line.matched for line in result.lines)
        assert "annulé" in result.lines[0].note and "annulé" in result.lines[1].note
        assert await states(session, big, two_experts["r1"]) == [
            TransferStatus.cancelled,
            PayoutState.unpaid,
        ]
        assert await payout_mails(session) == 0


class TestBatchBookingAndVersions:
    async def test_a_batch_booked_by_its_payment_information_id_is_settled(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        batch = await exported(session, settings)
        entry = StatementEntry(batch.total_cents, batch_payment_id=batch.message_id, batch_count=2)
        result = await imported(session, settings, [entry], "STMT-PMTINF")
        assert len(result.settled) == 2 and result.lines[0].matched
        assert (
            await states(session, *[two_experts[k] for k in ("r1", "r2", "r3")])
            == [PayoutState.paid] * 3
        )

    async def test_a_batch_booking_must_count_and_total_its_transfers(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        batch = await exported(session, settings)
        miscounted = StatementEntry(
            batch.total_cents, batch_payment_id=batch.message_id, batch_count=3
        )
        short = StatementEntry(batch.total_cents - 1, batch_message_id=batch.message_id)
        result = await imported(session, settings, [miscounted, short], "STMT-BATCH-BAD")
        assert result.settled == [] and not any(line.matched for line in result.lines)

    async def test_a_camt_053_001_04_statement_settles_and_returns(
        self, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
    ) -> None:
        big, small = await transfers(session, await exported(session, settings))
        entries = [paid(big), paid(small), returned(small)]
        result = await imported(session, settings, entries, "STMT-V04", version="04")
        assert set(result.settled) == {big.end_to_end_id, small.end_to_end_id}
        assert result.returned == [small.end_to_end_id]


def busy_day(ours: list[PayoutTransfer], entries: int = 1_300) -> bytes:
    """A 2.8 MB statement of a busy day: our transfers among the Région's other payments,
    each with the long remittance and details banks write."""
    others = [
        StatementEntry(
            10_000 + number,
            entry_ref=f"N{number:05d}",
            transactions=[
                StatementTransaction(
                    f"REGION-PAIE-{number:06d}",
                    10_000 + number,
                    message_id="REGION-LOT-2027-03-01",
                    creditor_name=f"Association régionale de soutien numéro {number} " * 2,
                    remittance=f"Subvention régionale dossier {number} " + "x" * 100,
                )
            ],
            additional_info=f"Virement SEPA émis, dossier {number} : " + "détails " * 55,
        )
        for number in range(entries - len(ours))
    ]
    return build_statement([paid(t) for t in ours] + others, statement_id="STMT-BUSY-DAY")


async def test_a_1300_entry_statement_imports_through_the_api(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    ours = await transfers(session, await exported(session, settings))
    data = busy_day(ours)
    assert settings.max_body_bytes < 2_700_000 < len(data) < settings.max_statement_bytes
    files = {"file": ("releve.xml", data, "application/xml")}
    headers = await headers_for(Role.accountant)
    response = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert response.status_code == 200, response.text[:500]
    [statement] = response.json()["statements"]
    assert set(statement["settled"]) == {t.end_to_end_id for t in ours}
    assert (len(statement["matched"]), len(statement["unmatched"])) == (2, 1_298)


async def test_a_statement_over_its_own_limit_is_refused_with_413(
    client: AsyncClient, settings: Settings, headers_for: HeadersFor
) -> None:
    headers = await headers_for(Role.accountant)
    over = b" " * (settings.max_statement_bytes + 1)
    files = {"file": ("releve.xml", over, "application/xml")}
    response = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert response.status_code == 413 and response.json()["code"] == "statement_too_large"
    enormous = b" " * settings.max_statement_upload_bytes
    files = {"file": ("releve.xml", enormous, "application/xml")}
    response = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


async def test_the_page_takes_a_1300_entry_statement_too(
    client: AsyncClient, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    ours = await transfers(session, await exported(session, settings))
    await log_in(client, session, settings, Role.accountant)
    page = await client.get("/accounting", headers={"accept": "text/html"})
    uploaded = await client.post(
        "/accounting/statements",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("releve.xml", busy_day(ours), "application/xml")},
        headers={"accept": "text/html"},
    )
    assert uploaded.status_code == 200, uploaded.text[:500]
    assert "2 virement(s) réglé(s)" in uploaded.text


async def test_the_page_says_a_statement_is_of_another_account(
    client: AsyncClient, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    big, _ = await transfers(session, await exported(session, settings))
    await log_in(client, session, settings, Role.accountant)
    page = await client.get("/accounting", headers={"accept": "text/html"})
    statement = build_statement([paid(big)], statement_id="STMT-ACCT-PAGE", iban=OTHER_IBAN)
    uploaded = await client.post(
        "/accounting/statements",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("releve.xml", statement, "application/xml")},
        headers={"accept": "text/html"},
    )
    assert uploaded.status_code == 200, uploaded.text[:500]
    assert f"Ce relevé est celui du compte {OTHER_IBAN}" in uploaded.text
    assert "0 virement(s) réglé(s)" in uploaded.text
