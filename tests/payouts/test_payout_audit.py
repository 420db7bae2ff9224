"""The audit trail of payouts, as an auditor reads it: each batch and transfer move, by
whom, from which state to which, with the figures and ids it concerned."""

from datetime import date
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import payload
from notifications.models import Notification
from tests.fixtures.factories import HeadersFor
from tests.payouts.camt_builder import StatementEntry, StatementTransaction, build_statement
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.payouts.models import BankStatementImport, PayoutBatch
from voucher_service.programmes.models import Programme
from voucher_service.vouchers.models import Voucher


async def trail(session: AsyncSession, since: int) -> list[tuple[Any, ...]]:
    """(action, entity, id, role, before, after) of the events recorded after ``since``."""
    query = select(AuditEvent).where(AuditEvent.id > since).order_by(AuditEvent.id)  # type: ignore[arg-type,operator]
    return [
        (e.action, e.entity_type, e.entity_id, e.actor_role, e.before, e.after)
        for e in (await session.execute(query)).scalars()
        if e.entity_type in ("payout_batch", "payout_transfer", "bank_statement_import")
    ]


async def last_event_id(session: AsyncSession) -> int:
    query = select(col(AuditEvent.id)).order_by(col(AuditEvent.id).desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none() or 0


async def upload(
    client: AsyncClient, headers: dict[str, str], entries: list[StatementEntry], statement_id: str
) -> dict[str, Any]:
    files = {
        "file": ("releve.xml", build_statement(entries, statement_id=statement_id), "text/xml")
    }
    response = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert response.status_code == 200, response.text
    statement: dict[str, Any] = response.json()["statements"][0]
    return statement


def debit(transfer: dict[str, Any], booked: date = date(2027, 3, 1)) -> StatementEntry:
    return StatementEntry(
        transfer["amount_cents"],
        booking_date=booked,
        entry_ref=f"PAY-{transfer['id']}",
        transactions=[StatementTransaction(transfer["end_to_end_id"], transfer["amount_cents"])],
    )


def credit_back(transfer: dict[str, Any]) -> StatementEntry:
    return StatementEntry(
        transfer["amount_cents"],
        credit_debit="CRDT",
        entry_ref=f"RET-{transfer['id']}",
        bank_code=("PMNT", "ICDT", "RRTN"),
        booking_date=date(2027, 3, 4),
        transactions=[
            StatementTransaction(transfer["end_to_end_id"], transfer["amount_cents"], "AC04")
        ],
    )


async def test_a_batch_from_draft_to_settled_and_a_return_are_each_audited(
    client: AsyncClient, session: AsyncSession, headers_for: HeadersFor, two_experts: dict[str, Any]
) -> None:
    headers = await headers_for(Role.accountant)
    since = await last_event_id(session)
    created = await client.post(
        "/api/v1/payout-batches", json={"cut_off": paris_today().isoformat()}, headers=headers
    )
    assert created.status_code == 201, created.text
    batch = created.json()
    big, small = sorted(batch["transfers"], key=lambda t: -t["amount_cents"])
    r1, r2, r3 = (two_experts[k].id for k in ("r1", "r2", "r3"))
    exported = await client.post(f"/api/v1/payout-batches/{batch['id']}/export", headers=headers)
    assert exported.status_code == 200
    exported_batch = await session.get(PayoutBatch, batch["id"], populate_existing=True)
    assert exported_batch is not None and exported_batch.file_created_at is not None
    stamped = exported_batch.file_created_at
    sepa = await client.get(f"/api/v1/payout-batches/{batch['id']}/sepa.xml", headers=headers)
    assert sepa.status_code == 200
    again = await client.get(f"/api/v1/payout-batches/{batch['id']}/sepa.xml", headers=headers)
    assert again.content == sepa.content

    first = await upload(client, headers, [debit(big)], "STMT-AUDIT-1")
    second = await upload(client, headers, [debit(small), credit_back(big)], "STMT-AUDIT-2")
    assert (first["settled"], second["settled"]) == (
        [big["end_to_end_id"]],
        [small["end_to_end_id"]],
    )
    assert second["returned"] == [big["end_to_end_id"]]
    imports = {
        i.statement_id: str(i.id)
        for i in (await session.execute(select(BankStatementImport))).scalars()
    }
    b, t_big, t_small = str(batch["id"]), str(big["id"]), str(small["id"])
    assert await trail(session, since) == [
        (
            "payout_batch.created",
            "payout_batch",
            b,
            "accountant",
            None,
            {
                "cut_off": paris_today().isoformat(),
                "total_cents": 450_000,
                "transfers": 2,
                "redemptions": [r1, r2, r3],
            },
        ),
        (
            "payout_batch.exported",
            "payout_batch",
            b,
            "accountant",
            {"status": "draft", "file_created_at": None},
            {
                "status": "exported",
                "file_created_at": stamped.isoformat(),
                "message_id": batch["message_id"],
            },
        ),
        (
            "payout_transfer.settled",
            "payout_transfer",
            t_big,
            "accountant",
            {"status": "pending"},
            {"status": "settled", "redemptions": [r1, r2], "paid": [two_experts["r1"].voucher_id]},
        ),
        (
            "payout_batch.partially_settled",
            "payout_batch",
            b,
            "accountant",
            {"status": "exported"},
            {"status": "partially_settled"},
        ),
        (
            "bank_statement.imported",
            "bank_statement_import",
            imports["STMT-AUDIT-1"],
            "accountant",
            None,
            {
                "statement_id": "STMT-AUDIT-1",
                "lines": 1,
                "settled": [big["end_to_end_id"]],
                "returned": [],
            },
        ),
        (
            "payout_transfer.settled",
            "payout_transfer",
            t_small,
            "accountant",
            {"status": "pending"},
            {"status": "settled", "redemptions": [r3], "paid": [two_experts["r3"].voucher_id]},
        ),
        (
            "payout_transfer.returned",
            "payout_transfer",
            t_big,
            "accountant",
            {"status": "settled"},
            {
                "status": "returned",
                "reason": "AC04",
                "redemptions": [r1, r2],
                "unpaid": [two_experts["r1"].voucher_id],
            },
        ),
        (
            "bank_statement.imported",
            "bank_statement_import",
            imports["STMT-AUDIT-2"],
            "accountant",
            None,
            {
                "statement_id": "STMT-AUDIT-2",
                "lines": 2,
                "settled": [small["end_to_end_id"]],
                "returned": [big["end_to_end_id"]],
            },
        ),
    ]


async def test_a_cancelled_draft_and_a_batch_settled_whole_are_audited(
    client: AsyncClient, session: AsyncSession, headers_for: HeadersFor, two_experts: dict[str, Any]
) -> None:
    headers = await headers_for(Role.accountant)
    since = await last_event_id(session)
    draft = (
        await client.post(
            "/api/v1/payout-batches", json={"cut_off": paris_today().isoformat()}, headers=headers
        )
    ).json()
    cancelled = await client.post(f"/api/v1/payout-batches/{draft['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert {t["status"] for t in cancelled.json()["transfers"]} == {"cancelled"}
    batch = (
        await client.post(
            "/api/v1/payout-batches", json={"cut_off": paris_today().isoformat()}, headers=headers
        )
    ).json()
    await client.post(f"/api/v1/payout-batches/{batch['id']}/export", headers=headers)
    whole = StatementEntry(
        batch["total_cents"], entry_ref="LOT", batch_message_id=batch["message_id"]
    )
    result = await upload(client, headers, [whole], "STMT-AUDIT-WHOLE")
    assert len(result["settled"]) == 2
    shown = await client.get(f"/api/v1/payout-batches/{batch['id']}", headers=headers)
    assert shown.json()["status"] == "settled" and shown.json()["settled_at"] is not None
    events = await trail(session, since)
    r_ids = [two_experts[k].id for k in ("r1", "r2", "r3")]
    assert events[1] == (
        "payout_batch.cancelled",
        "payout_batch",
        str(draft["id"]),
        "accountant",
        {"status": "draft"},
        {"status": "cancelled", "redemptions": r_ids},
    )
    assert [e[0] for e in events[2:]] == [
        "payout_batch.created",
        "payout_batch.exported",
        "payout_transfer.settled",
        "payout_transfer.settled",
        "payout_batch.settled",
        "bank_statement.imported",
    ]
    assert events[6][4:] == ({"status": "exported"}, {"status": "settled"})


async def test_the_expert_is_told_once_what_was_paid_for_which_cheques(
    client: AsyncClient, session: AsyncSession, headers_for: HeadersFor, two_experts: dict[str, Any]
) -> None:
    headers = await headers_for(Role.accountant)
    batch = (
        await client.post(
            "/api/v1/payout-batches", json={"cut_off": paris_today().isoformat()}, headers=headers
        )
    ).json()
    await client.post(f"/api/v1/payout-batches/{batch['id']}/export", headers=headers)
    big = max(batch["transfers"], key=lambda t: t["amount_cents"])
    await upload(client, headers, [debit(big, date(2027, 3, 2))], "STMT-MAIL")
    query = select(Notification).where(Notification.event == "payout_sent")  # type: ignore[arg-type]
    [mail] = (await session.execute(query)).scalars()
    first, r1, r2 = two_experts["first"], two_experts["r1"], two_experts["r2"]
    vouchers = [await session.get(Voucher, r.voucher_id) for r in (r1, r2)]
    programme = await session.get(Programme, vouchers[0].programme_id)  # type: ignore[union-attr]
    assert (mail.recipient, mail.dedupe_key) == (first.email, f"payout_sent:{big['end_to_end_id']}")
    assert payload.decode(mail.data) == {
        "expert_name": "Hélène Conseil Numérique",
        "total_cents": 250_000,
        "executed_on": date(2027, 3, 2),
        "cheques": [
            {"code": v.code, "amount_cents": r.amount_cents, "invoice_reference": f"FA-{v.code}"}  # type: ignore[union-attr]
            for v, r in zip(vouchers, (r1, r2), strict=True)
        ],
        "programme_name": programme.name,  # type: ignore[union-attr]
        "programme_contact": programme.contact_email,  # type: ignore[union-attr]
    }


async def test_a_rejected_transfer_is_audited_with_nothing_to_unpay(
    client: AsyncClient, session: AsyncSession, headers_for: HeadersFor, two_experts: dict[str, Any]
) -> None:
    headers = await headers_for(Role.accountant)
    batch = (
        await client.post(
            "/api/v1/payout-batches", json={"cut_off": paris_today().isoformat()}, headers=headers
        )
    ).json()
    await client.post(f"/api/v1/payout-batches/{batch['id']}/export", headers=headers)
    small = min(batch["transfers"], key=lambda t: t["amount_cents"])
    since = await last_event_id(session)
    rejected = StatementEntry(
        small["amount_cents"],
        status="RJCT",
        booking_date=None,
        entry_ref="RJCT",
        transactions=[StatementTransaction(small["end_to_end_id"], return_reason="AM04")],
    )
    answer = await upload(client, headers, [rejected], "STMT-AUDIT-RJCT")
    assert answer["returned"] == [small["end_to_end_id"]]
    assert (await trail(session, since))[0] == (
        "payout_transfer.returned",
        "payout_transfer",
        str(small["id"]),
        "accountant",
        {"status": "pending"},
        {
            "status": "returned",
            "reason": "AM04",
            "redemptions": [two_experts["r3"].id],
            "unpaid": [],
        },
    )
