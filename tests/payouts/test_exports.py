"""The reconciliation CSV and the FEC, read back as an accountant's tools would."""

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories import HeadersFor
from tests.payouts.camt_builder import StatementEntry, build_statement
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.payouts import batches, statements
from voucher_service.payouts.exports import reconcile_state
from voucher_service.payouts.fec import FEC_COLUMNS, FEC_ENCODING
from voucher_service.vouchers.models import Voucher, VoucherStatus


def this_month() -> dict[str, str]:
    """From the first of this month to today, in Paris."""
    today = paris_today()
    return {"from": today.replace(day=1).isoformat(), "to": today.isoformat()}


async def settle_everything(session: AsyncSession, settings: Settings) -> None:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    await batches.export_batch(session, batch.id, settings)
    entry = StatementEntry(
        batch.total_cents, booking_date=paris_today(), batch_message_id=batch.message_id
    )
    await statements.import_statement(
        session, build_statement([entry], statement_id=f"STMT-X-{batch.id}"), settings
    )


async def reconciliation_rows(client: AsyncClient, headers_for: HeadersFor) -> list[list[str]]:
    """The reconciliation CSV of this month, read back as French Excel reads it."""
    response = await client.get(
        "/api/v1/exports/reconciliation.csv",
        params=this_month(),
        headers=await headers_for(Role.accountant),
    )
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def cents(text: str) -> int:
    return round(float(text.replace(",", ".")) * 100)


async def test_the_reconciliation_csv_gives_the_database_figures(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    await settle_everything(session, settings)
    rows = await reconciliation_rows(client, headers_for)
    assert rows[0][0] == "Code"
    by_code = {row[0]: row for row in rows[1:]}
    for key in ("r1", "r2", "r3"):
        redemption = two_experts[key]
        voucher = await session.get(Voucher, redemption.voucher_id)
        assert voucher is not None
        row = by_code[voucher.code]
        assert cents(row[3]) == voucher.amount_cents
        assert voucher.siret == "73282932000074" and row[2] == "732 829 320 00074"
        assert cents(row[5]) == redemption.amount_cents
        assert cents(row[6]) == redemption.amount_cents
        unused = voucher.amount_cents - redemption.amount_cents
        assert rows[0][7:9] == ["Solde non utilisé", "État"] and cents(row[7]) == unused
        assert row[8] == ("payé pour la part utilisée" if unused else "payé"), row
    partly_used = await session.get(Voucher, two_experts["r2"].voucher_id)
    assert partly_used is not None and by_code[partly_used.code][7] == "1500,00"


def test_discrepancies_are_named() -> None:
    def state(
        status: VoucherStatus, redeemed: int, paid: int, **flags: bool
    ) -> tuple[str, list[str]]:
        twice, overdue = flags.get("twice", False), flags.get("overdue", False)
        return reconcile_state(status, redeemed, paid, twice, overdue, unused=0)

    assert state(VoucherStatus.issued, 0, 0) == ("émis", [])
    assert state(VoucherStatus.redeemed, 5, 0) == ("utilisé, à payer", [])
    assert state(VoucherStatus.paid, 5, 5) == ("payé", [])
    assert state(VoucherStatus.paid, 5, 4)[0] == "écart"
    assert state(VoucherStatus.paid, 5, 10, twice=True)[1][0] == "payé deux fois"
    assert "non utilisé" in state(VoucherStatus.cancelled, 0, 5)[1][0]
    assert "60 jours" in state(VoucherStatus.redeemed, 5, 0, overdue=True)[1][0]


@pytest.mark.parametrize(
    ("status", "redeemed", "paid", "unused", "expected"),
    [
        (VoucherStatus.partially_redeemed, 165_000, 0, 35_000, "utilisé en partie, à payer"),
        (VoucherStatus.partially_redeemed, 165_000, 165_000, 35_000, "payé pour la part utilisée"),
        (
            VoucherStatus.expired,
            165_000,
            165_000,
            35_000,
            "payé pour la part utilisée, solde libéré",
        ),
        (VoucherStatus.expired, 0, 0, 200_000, "expiré, solde libéré"),
        (VoucherStatus.cancelled, 0, 0, 200_000, "annulé, solde libéré"),
    ],
)
def test_a_cheque_used_in_part_is_paid_for_what_was_used(
    status: VoucherStatus, redeemed: int, paid: int, unused: int, expected: str
) -> None:
    """Never « payé » alone while a balance is unused: the state says it, in French."""
    assert reconcile_state(status, redeemed, paid, False, False, unused=unused) == (expected, [])


async def test_every_fec_entry_balances_with_18_columns(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    await settle_everything(session, settings)
    response = await client.get(
        "/api/v1/exports/fec.txt", params=this_month(), headers=await headers_for(Role.accountant)
    )
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert f"{settings.payout_siren}FEC{paris_today().strftime('%Y%m%d')}.txt" in disposition
    lines = response.content.decode(FEC_ENCODING).split("\r\n")
    assert lines[-1] == ""
    rows = [line.split("|") for line in lines[:-1]]
    assert tuple(rows[0]) == FEC_COLUMNS
    assert all(len(row) == 18 for row in rows)
    totals: dict[tuple[str, str], int] = {}
    for row in rows[1:]:
        key = (row[0], row[2])
        totals[key] = totals.get(key, 0) + cents(row[11]) - cents(row[12])
    assert totals and all(total == 0 for total in totals.values())
    journals = {row[0] for row in rows[1:]}
    assert journals >= {"ENG", "ACH", "BQ"}
    paid = sum(cents(row[12]) for row in rows[1:] if row[0] == "BQ" and row[4] == "512")
    assert paid >= 450_000


@pytest.mark.parametrize("path", ["reconciliation.csv", "fec.txt"])
async def test_a_reversed_period_is_refused(
    client: AsyncClient, headers_for: HeadersFor, path: str
) -> None:
    response = await client.get(
        f"/api/v1/exports/{path}",
        params={"from": date(2027, 2, 1).isoformat(), "to": date(2027, 1, 1).isoformat()},
        headers=await headers_for(Role.accountant),
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_period"
    assert response.json()["detail"] == (
        "La date de début doit précéder la date de fin (du 01/02/2027 au 01/01/2027)."
    )


@pytest.mark.parametrize("path", ["reconciliation.csv", "fec.txt"])
async def test_a_period_over_ten_years_says_so(
    client: AsyncClient, headers_for: HeadersFor, path: str
) -> None:
    response = await client.get(
        f"/api/v1/exports/{path}",
        params={"from": "2010-01-01", "to": "2025-01-01"},
        headers=await headers_for(Role.accountant),
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_period"
    assert response.json()["detail"].startswith(
        "Période de plus de dix ans (du 01/01/2010 au 01/01/2025)"
    )


@pytest.mark.parametrize("path", ["reconciliation.csv", "fec.txt"])
@pytest.mark.parametrize(
    ("start", "end"), [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")]
)
async def test_days_out_of_any_era_are_refused_not_a_500(
    client: AsyncClient, headers_for: HeadersFor, path: str, start: str, end: str
) -> None:
    response = await client.get(
        f"/api/v1/exports/{path}",
        params={"from": start, "to": end},
        headers=await headers_for(Role.accountant),
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_period"
    assert "01/01/2000" in response.json()["detail"]


async def test_an_old_unpaid_redemption_is_a_discrepancy(
    client: AsyncClient,
    session: AsyncSession,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    old = two_experts["r3"]
    old.redeemed_at = old.redeemed_at - timedelta(days=61)
    await session.flush()
    rows = await reconciliation_rows(client, headers_for)
    voucher = await session.get(Voucher, old.voucher_id)
    assert voucher is not None
    row = next(row for row in rows if row[0] == voucher.code)
    assert row[8] == "écart" and "60 jours" in row[9]


async def test_a_cheque_used_in_part_then_past_its_last_day_has_its_balance_released(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers_for: HeadersFor,
    two_experts: dict[str, Any],
) -> None:
    """Even before the sweep records the expiry, the CSV says the balance is released."""
    await settle_everything(session, settings)
    voucher = await session.get(Voucher, two_experts["r2"].voucher_id)
    assert voucher is not None and voucher.status is VoucherStatus.partially_redeemed
    voucher.valid_from, voucher.valid_until = (
        paris_today() - timedelta(days=30),
        paris_today() - timedelta(days=1),
    )
    await session.flush()
    rows = await reconciliation_rows(client, headers_for)
    row = next(row for row in rows if row[0] == voucher.code)
    assert row[7:9] == ["1500,00", "payé pour la part utilisée, solde libéré"], row
