"""Payout batches end to end, on both databases: redemptions → batch → SEPA file →
bank statement → paid cheques."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
import xmlschema
from httpx import AsyncClient
from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts.models import Expert, PayoutState, Redemption
from notifications import payload, rendering
from notifications.models import Notification
from tests.fixtures.factories import HeadersFor
from tests.payouts.camt_builder import StatementEntry, StatementTransaction, build_statement
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import PARIS, paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.payouts import batches, repository, statements
from voucher_service.payouts.business_days import requested_execution_date
from voucher_service.payouts.errors import (
    BatchCancelled,
    BatchNotCancellable,
    BatchNotExported,
    NothingToPay,
)
from voucher_service.payouts.models import (
    BatchStatus,
    PayoutBatch,
    PayoutItem,
    PayoutTransfer,
    TransferStatus,
)
from voucher_service.vouchers.models import Voucher, VoucherStatus

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


async def state_of(session: AsyncSession, redemption: Redemption) -> PayoutState:
    await session.refresh(redemption)
    return redemption.payout_state


async def voucher_status(session: AsyncSession, redemption: Redemption) -> VoucherStatus:
    voucher = await session.get(Voucher, redemption.voucher_id)
    assert voucher is not None
    await session.refresh(voucher)
    return voucher.status


async def code_of(session: AsyncSession, redemption: Redemption) -> str:
    voucher = await session.get(Voucher, redemption.voucher_id)
    assert voucher is not None
    return voucher.code


def transfer_of(transfers: list[PayoutTransfer], expert: Expert) -> PayoutTransfer:
    return next(t for t in transfers if t.expert_id == expert.id)


async def test_a_batch_has_one_transfer_per_expert_and_batches_the_redemptions(
    session: AsyncSession, two_experts: dict[str, Any]
) -> None:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None and batch.status is BatchStatus.draft
    transfers = await repository.transfers_of(session, batch.id)
    first = transfer_of(transfers, two_experts["first"])
    assert first.amount_cents == 200_000 + 50_000
    assert first.creditor_name == "Hélène Conseil Numérique"
    codes = [await code_of(session, two_experts[key]) for key in ("r1", "r2")]
    assert first.remittance == (
        f"Factures FA-{codes[0]}, FA-{codes[1]} - Cheques {codes[0]}, {codes[1]}"
    )
    assert transfer_of(transfers, two_experts["second"]).amount_cents == 200_000
    for key in ("r1", "r2", "r3"):
        assert await state_of(session, two_experts[key]) is PayoutState.batched
    with pytest.raises(NothingToPay):
        await batches.create_batch(session, paris_today())


async def test_the_cut_off_leaves_later_redemptions_out(
    session: AsyncSession, two_experts: dict[str, Any]
) -> None:
    with pytest.raises(NothingToPay):
        await batches.create_batch(session, paris_today() - timedelta(days=2))


async def test_a_redemption_cannot_be_in_two_live_batches(
    session: AsyncSession, two_experts: dict[str, Any]
) -> None:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    transfer = (await repository.transfers_of(session, batch.id))[0]
    assert transfer.id is not None
    query = select(PayoutItem).where(col(PayoutItem.transfer_id) == transfer.id)
    item = (await session.execute(query)).scalars().first()
    assert item is not None
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            session.add(
                PayoutItem(
                    transfer_id=transfer.id,
                    redemption_id=item.redemption_id,
                    live_redemption_id=item.redemption_id,
                    amount_cents=1,
                )
            )
            await session.flush()


async def test_cancelling_a_draft_frees_the_redemptions(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    await batches.cancel_batch(session, batch.id)
    assert await state_of(session, two_experts["r1"]) is PayoutState.unpaid
    again = await batches.create_batch(session, paris_today())
    assert again.id != batch.id
    assert again.id is not None
    await batches.export_batch(session, again.id, settings)
    with pytest.raises(BatchNotCancellable):
        await batches.cancel_batch(session, again.id)


async def test_a_draft_has_no_file_to_read_and_stays_cancellable(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    with pytest.raises(BatchNotExported):
        await batches.sepa_file(session, batch.id, settings)
    await session.refresh(batch)
    assert batch.status is BatchStatus.draft and batch.file_created_at is None
    await batches.cancel_batch(session, batch.id)
    with pytest.raises(BatchCancelled):
        await batches.export_batch(session, batch.id, settings)


async def test_exporting_again_the_same_day_changes_nothing_and_is_audited_once(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    await batches.export_batch(session, batch.id, settings)
    first = await batches.sepa_file(session, batch.id, settings)
    stamped, exported_at = batch.file_created_at, batch.exported_at
    await batches.export_batch(session, batch.id, settings)
    assert (batch.file_created_at, batch.exported_at) == (stamped, exported_at)
    assert await batches.sepa_file(session, batch.id, settings) == first
    events = (
        select(col(AuditEvent.action))
        .where(
            col(AuditEvent.entity_type) == "payout_batch",
            col(AuditEvent.entity_id) == str(batch.id),
        )
        .order_by(col(AuditEvent.id))
    )
    actions = list((await session.execute(events)).scalars())
    assert actions == ["payout_batch.created", "payout_batch.exported"]


async def test_the_sepa_file_validates_sums_and_is_stable(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    await batches.export_batch(session, batch.id, settings)
    document = await batches.sepa_file(session, batch.id, settings)
    assert batch.status is BatchStatus.exported
    assert await batches.sepa_file(session, batch.id, settings) == document
    xsd = resources.files("sepaxml") / "schemas" / "pain.001.001.03.xsd"
    xmlschema.XMLSchema(str(xsd)).validate(document.decode())
    root = etree.fromstring(document)
    amounts = [
        Decimal(a) for a in root.xpath("//p:CdtTrfTxInf/p:Amt/p:InstdAmt/text()", namespaces=NS)
    ]
    control = Decimal(root.xpath("//p:GrpHdr/p:CtrlSum/text()", namespaces=NS)[0])
    assert sum(amounts) == control == Decimal(batch.total_cents) / 100
    assert root.xpath("//p:GrpHdr/p:MsgId/text()", namespaces=NS) == [batch.message_id]


async def exported_at(
    session: AsyncSession, batch_id: int, settings: Settings, now: datetime
) -> bytes:
    """The file as an export at ``now`` fixed it."""
    await batches.export_batch(session, batch_id, settings, now=now)
    return await batches.sepa_file(session, batch_id, settings)


def file_fields(document: bytes) -> dict[str, list[str]]:
    root = etree.fromstring(document)
    paths = {"created": "//p:GrpHdr/p:CreDtTm", "execution": "//p:PmtInf/p:ReqdExctnDt"}
    paths |= {"message": "//p:GrpHdr/p:MsgId", "payment": "//p:PmtInf/p:PmtInfId"}
    return {key: root.xpath(f"{path}/text()", namespaces=NS) for key, path in paths.items()}


async def test_the_execution_date_is_set_when_the_file_is_produced(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch = await batches.create_batch(session, paris_today())
    batch.created_at -= timedelta(days=10)
    await session.flush()
    assert batch.id is not None
    fields = file_fields(await exported_at(session, batch.id, settings, utcnow()))
    stamped = batch.file_created_at
    assert stamped is not None and stamped > batch.created_at + timedelta(days=9)
    expected = requested_execution_date(stamped, settings.payout_cutoff_hour)
    assert fields["execution"] == [expected.isoformat()]
    assert expected >= paris_today(stamped)
    assert fields["created"] == [stamped.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M:%S")]


async def test_exports_of_a_day_are_identical_and_another_day_changes_only_the_dates(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    # Monday 7 June 2027, 10:00 in Paris: before the cut-off; 17:00: after it
    monday = datetime(2027, 6, 7, 8, 0, tzinfo=UTC)
    morning = await exported_at(session, batch.id, settings, monday)
    evening = await exported_at(session, batch.id, settings, monday.replace(hour=15))
    assert evening == morning
    assert file_fields(morning)["execution"] == ["2027-06-07"]
    tuesday = await exported_at(session, batch.id, settings, monday + timedelta(days=1))
    assert file_fields(tuesday)["execution"] == ["2027-06-08"]
    assert file_fields(tuesday)["created"] == ["2027-06-08T10:00:00"]
    same = {"message", "payment"}
    assert {k: v for k, v in file_fields(tuesday).items() if k in same} == {
        k: v for k, v in file_fields(morning).items() if k in same
    }
    restamped = tuesday.replace(b"2027-06-08T10:00:00", b"2027-06-07T10:00:00")
    assert restamped.replace(b">2027-06-08<", b">2027-06-07<") == morning


async def exported(
    session: AsyncSession, settings: Settings
) -> tuple[PayoutBatch, list[PayoutTransfer]]:
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    await batches.export_batch(session, batch.id, settings)
    return batch, await repository.transfers_of(session, batch.id)


async def test_a_statement_per_transfer_with_a_return_settles_exactly_the_right_ones(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch, transfers = await exported(session, settings)
    first = transfer_of(transfers, two_experts["first"])
    second = transfer_of(transfers, two_experts["second"])
    entries = [
        StatementEntry(
            first.amount_cents,
            entry_ref="E1",
            transactions=[StatementTransaction(first.end_to_end_id, first.amount_cents)],
        ),
        StatementEntry(
            second.amount_cents,
            entry_ref="E2",
            transactions=[StatementTransaction(second.end_to_end_id, second.amount_cents)],
        ),
        StatementEntry(
            second.amount_cents,
            credit_debit="CRDT",
            entry_ref="E3",
            bank_code=("PMNT", "ICDT", "RRTN"),
            transactions=[
                StatementTransaction(
                    second.end_to_end_id, second.amount_cents, return_reason="AC04"
                )
            ],
        ),
        StatementEntry(12_345, entry_ref="FEES", bank_code=("ACMT", "MDOP", "CHRG")),
    ]
    data = build_statement(entries, statement_id=f"STMT-{batch.id}-A")
    [result] = await statements.import_statement(session, data, settings)
    assert not result.already_imported
    assert set(result.settled) == {first.end_to_end_id, second.end_to_end_id}
    assert result.returned == [second.end_to_end_id]
    assert [line.entry_ref for line in result.lines if not line.matched] == ["FEES"]

    assert await state_of(session, two_experts["r1"]) is PayoutState.paid
    assert await state_of(session, two_experts["r2"]) is PayoutState.paid
    assert await state_of(session, two_experts["r3"]) is PayoutState.unpaid
    assert await voucher_status(session, two_experts["r1"]) is VoucherStatus.paid
    assert await voucher_status(session, two_experts["r2"]) is VoucherStatus.partially_redeemed
    assert await voucher_status(session, two_experts["r3"]) is VoucherStatus.redeemed
    await session.refresh(second)
    assert second.status is TransferStatus.returned and second.return_reason == "AC04"
    await session.refresh(batch)
    assert batch.status is BatchStatus.partially_settled
    sent = (
        await session.execute(select(Notification).where(col(Notification.event) == "payout_sent"))
    ).scalars()
    mine = [n for n in sent if n.recipient == two_experts["first"].email]
    assert len(mine) == 1
    message = rendering.render("payout_sent", payload.decode(mine[0].data))
    assert "2 500,00" in message.text or "2500,00" in message.text.replace("\u202f", "")
    for key in ("r1", "r2"):
        code = await code_of(session, two_experts[key])
        assert f"- {code} (votre facture FA-{code}) :" in message.text
        assert f"Votre facture FA-{code}" in message.html

    [again] = await statements.import_statement(session, data, settings)
    assert again.already_imported and again.settled == [] and again.returned == []
    assert await state_of(session, two_experts["r3"]) is PayoutState.unpaid
    # the returned redemption is free for the next batch
    nxt = await batches.create_batch(session, paris_today())
    assert nxt.id is not None
    assert [t.expert_id for t in await repository.transfers_of(session, nxt.id)] == [
        two_experts["second"].id
    ]


async def test_a_batch_booked_debit_settles_the_whole_batch(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch, transfers = await exported(session, settings)
    entry = StatementEntry(
        batch.total_cents, batch_message_id=batch.message_id, batch_count=len(transfers)
    )
    [result] = await statements.import_statement(
        session, build_statement([entry], statement_id=f"STMT-{batch.id}-B"), settings
    )
    assert len(result.settled) == len(transfers)
    await session.refresh(batch)
    assert batch.status is BatchStatus.settled
    for key in ("r1", "r2", "r3"):
        assert await state_of(session, two_experts[key]) is PayoutState.paid


async def test_a_wrong_amount_is_kept_unmatched(
    session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    batch, transfers = await exported(session, settings)
    first = transfers[0]
    entry = StatementEntry(
        first.amount_cents - 1,
        transactions=[StatementTransaction(first.end_to_end_id, first.amount_cents - 1)],
    )
    [result] = await statements.import_statement(
        session, build_statement([entry], statement_id=f"STMT-{batch.id}-C"), settings
    )
    assert result.settled == [] and not result.lines[0].matched
    assert "montant" in result.lines[0].note


# The API


async def test_the_api_batches_downloads_and_imports(
    client: AsyncClient, headers_for: HeadersFor, two_experts: dict[str, Any]
) -> None:
    headers = await headers_for(Role.accountant)
    created = await client.post(
        "/api/v1/payout-batches", json={"cut_off": paris_today().isoformat()}, headers=headers
    )
    assert created.status_code == 201, created.text
    batch = created.json()
    named = {t["creditor_name"]: t["creditor_name_sepa"] for t in batch["transfers"]}
    assert named["Hélène Conseil Numérique"] == "Helene Conseil Numerique"
    listed = await client.get("/api/v1/payout-batches", headers=headers)
    assert batch["id"] in [b["id"] for b in listed.json()["items"]]
    exported = await client.post(f"/api/v1/payout-batches/{batch['id']}/export", headers=headers)
    assert exported.status_code == 200 and exported.json()["status"] == "exported"
    xml = await client.get(f"/api/v1/payout-batches/{batch['id']}/sepa.xml", headers=headers)
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    refused = await client.post(f"/api/v1/payout-batches/{batch['id']}/cancel", headers=headers)
    assert refused.status_code == 409
    entry = StatementEntry(
        batch["total_cents"], batch_message_id=batch["message_id"], entry_ref="LOT"
    )
    data = build_statement([entry], statement_id=f"STMT-API-{batch['id']}")
    files = {"file": ("releve.xml", data, "application/xml")}
    imported = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert imported.status_code == 200, imported.text
    [statement] = imported.json()["statements"]
    assert statement["already_imported"] is False
    assert [line["entry_ref"] for line in statement["matched"]] == ["LOT"]
    twice = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert twice.json()["statements"][0]["already_imported"] is True
    assert twice.json()["statements"][0]["settled"] == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol3;</Document>"""


async def test_a_billion_laughs_upload_is_refused(
    client: AsyncClient, headers_for: HeadersFor
) -> None:
    headers = await headers_for(Role.accountant)
    files = {"file": ("lol.xml", BILLION_LAUGHS, "application/xml")}
    response = await client.post("/api/v1/bank-statements", files=files, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_statement"


@pytest.mark.parametrize("role", [Role.expert])
async def test_other_roles_are_refused(
    client: AsyncClient, headers_for: HeadersFor, role: Role
) -> None:
    headers = await headers_for(role)
    response = await client.get("/api/v1/payout-batches", headers=headers)
    assert response.status_code == 403
    anonymous = await client.get("/api/v1/payout-batches")
    assert anonymous.status_code == 401
