"""Issuance, cancellation, expiry sweep, and the admin / accountant API."""

import json
import uuid
from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.core.test_errors import assert_problem
from tests.fixtures.factories import HeadersFor, create_programme
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.ledger import Account, Journal, LedgerEntry
from voucher_service.vouchers import codes, service
from voucher_service.vouchers.errors import VoucherNotCancellable
from voucher_service.vouchers.models import VoucherStatus

URL = "/api/v1/vouchers"


async def audit_actions(session: AsyncSession, voucher_id: int) -> list[str]:
    """The cheque's audit trail once the work so far committed (events are chained then)."""
    await session.commit()
    query = (
        select(col(AuditEvent.action))
        .where(
            col(AuditEvent.entity_type) == "voucher", col(AuditEvent.entity_id) == str(voucher_id)
        )
        .order_by(col(AuditEvent.id))
    )
    return list((await session.execute(query)).scalars())


class TestIssue:
    async def test_snapshot_amount_validity_and_audit(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session, cheque_validity_days=180)
        issued = await create_voucher(session, settings, programme)
        voucher = issued.voucher
        assert (voucher.status, voucher.amount_cents, voucher.balance_cents) == (
            VoucherStatus.issued,
            programme.cheque_amount_cents,
            programme.cheque_amount_cents,
        )
        assert voucher.valid_from == paris_today()
        assert voucher.valid_until == paris_today() + timedelta(days=179)
        assert (voucher.company_name, voucher.siret) == ("Atelier Calanques SARL", "73282932000074")
        assert issued.code == voucher.code and codes.normalise(issued.code) == issued.code
        assert issued.token == voucher.token
        assert await audit_actions(session, voucher.id or 0) == ["voucher.issued"]
        issued_event = await session.scalar(
            select(AuditEvent).where(
                col(AuditEvent.action) == "voucher.issued",
                col(AuditEvent.entity_id) == str(voucher.id),
            )
        )
        assert issued_event is not None and issued_event.after is not None
        assert issued_event.after["code"] == voucher.code
        assert voucher.beneficiary_email not in json.dumps(issued_event.after)


class TestGet:
    async def test_the_cheque_its_token_and_history(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        issued = await create_voucher(session, settings)
        await service.take_amount(session, issued.voucher.id or 0, 50_000, paris_today())
        typed = issued.code.removeprefix("MCD-").lower().replace("-", "")
        for role in (Role.accountant, Role.admin):
            response = await client.get(f"{URL}/{typed}", headers=await headers_for(role))
            assert response.status_code == 200, response.text
        body = response.json()
        assert (body["code"], body["token"], body["status"]) == (
            issued.code,
            issued.token,
            "partially_redeemed",
        )
        assert (body["amount_cents"], body["balance_cents"]) == (200_000, 150_000)
        assert [(e["action"], e["balance_cents"]) for e in body["history"]] == [
            ("issued", 200_000),
            ("redeemed", 150_000),
        ]
        assert body["history"][1]["amount_cents"] == 50_000

    async def test_unknown_or_mistyped_code(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        headers = await headers_for(Role.admin)
        issued = await create_voucher(session, settings)
        await session.commit()  # keep the set-up when a refused request rolls back
        assert_problem(
            await client.get(f"{URL}/{codes.new_code()}", headers=headers), 404, "voucher_not_found"
        )
        typo = issued.code[:-1] + ("2" if issued.code[-1] != "2" else "3")
        assert_problem(await client.get(f"{URL}/{typo}", headers=headers), 422, "invalid_token")

    async def test_roles(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        code = (await create_voucher(session, settings)).code
        await session.commit()  # keep the set-up when a refused request rolls back
        for path in (f"{URL}/{code}", URL, f"{URL}/{code}/pdf"):
            assert_problem(await client.get(path), 401, "not_authenticated")
            response = await client.get(path, headers=await headers_for(Role.expert))
            assert_problem(response, 403, "forbidden")
        response = await client.get(f"{URL}/{code}/pdf", headers=await headers_for(Role.accountant))
        assert_problem(response, 403, "forbidden")
        cancel = f"{URL}/{code}/cancel"
        assert_problem(await client.post(cancel, json={"reason": "Test"}), 401, "not_authenticated")
        for role in (Role.accountant, Role.expert):
            response = await client.post(
                cancel, json={"reason": "Test"}, headers=await headers_for(role)
            )
            assert_problem(response, 403, "forbidden")


class TestList:
    async def test_filters_pages_and_status_as_seen_today(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        headers = await headers_for(Role.accountant)
        programme = await create_programme(session)
        fresh = [(await create_voucher(session, settings, programme)).voucher for _ in range(3)]
        past = paris_today() - timedelta(days=1)
        unswept = (await create_voucher(session, settings, programme, valid_until=past)).voucher
        other = (await create_voucher(session, settings)).voucher
        mine = {"programme_id": programme.id}

        response = await client.get(URL, params={**mine, "page_size": 2}, headers=headers)
        body = response.json()
        assert (body["total"], len(body["items"]), body["page"]) == (4, 2, 1)
        second = await client.get(URL, params={**mine, "page_size": 2, "page": 2}, headers=headers)
        listed = [item["id"] for item in body["items"] + second.json()["items"]]
        assert sorted(listed) == sorted([v.id or 0 for v in [*fresh, unswept]])
        assert other.id not in listed

        expired = await client.get(URL, params={**mine, "status": "expired"}, headers=headers)
        assert [(i["id"], i["status"]) for i in expired.json()["items"]] == [
            (unswept.id, "expired")
        ]
        issued = await client.get(URL, params={**mine, "status": "issued"}, headers=headers)
        assert issued.json()["total"] == 3

    async def test_search_by_loose_code_siret_or_company(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        headers = await headers_for(Role.accountant)
        tag = uuid.uuid4().hex[:8]
        wanted = (await create_voucher(session, settings)).voucher
        wanted.company_name, wanted.siret = f"Société Numérique {tag} 100%_Sud", "99999999900017"
        other = (await create_voucher(session, settings)).voucher
        other.company_name = f"Atelier {tag} Calanques"
        await session.flush()

        async def found(q: str) -> list[int]:
            response = await client.get(URL, params={"q": q}, headers=headers)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        body = wanted.code.removeprefix("MCD-").replace("-", "")
        for typed in (wanted.code, body.lower(), f"mcd {body[:4]} {body[4:8]}", body[5:11]):
            assert await found(typed) == [wanted.id], typed
        assert await found("999 999 999") == [wanted.id]  # the SIREN, spaced
        assert await found("SOCIÉTÉ numérique") == [wanted.id]
        assert await found(f"numérique {tag.upper()} 100%_") == [wanted.id]
        assert await found("100%_sud") == [wanted.id] and await found("100_%") == []
        assert set(await found(tag)) == {wanted.id, other.id}
        assert await found(body[:3] + "O") == []  # O is no code letter
        too_long = await client.get(URL, params={"q": "x" * 101}, headers=headers)
        assert_problem(too_long, 422, "validation_error")

    async def test_bad_filters(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        headers = await headers_for(Role.admin)
        await session.commit()  # keep the login when a refused request rolls back
        response = await client.get(URL, params={"status": "lost"}, headers=headers)
        assert_problem(response, 422, "validation_error")
        response = await client.get(URL, params={"page_size": 1000}, headers=headers)
        assert_problem(response, 422, "validation_error")


class TestCancel:
    async def test_unredeemed_amount_goes_back_to_the_envelope(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        programme = await create_programme(session, budget_cents=1_000_000)
        issued = await create_voucher(session, settings, programme)
        voucher_id = issued.voucher.id or 0
        await service.take_amount(session, voucher_id, 30_000, paris_today())
        assert programme.committed_cents == 200_000
        headers = await headers_for(Role.admin)
        response = await client.post(
            f"{URL}/{issued.code}/cancel", json={"reason": "  Entreprise radiée  "}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["cancel_reason"]) == ("cancelled", "Entreprise radiée")
        assert body["history"][-1]["action"] == "cancelled"
        assert body["history"][-1]["amount_cents"] == 170_000
        await session.refresh(programme)
        assert programme.committed_cents == 30_000  # only what the expert used stays committed
        again = await client.post(
            f"{URL}/{issued.code}/cancel", json={"reason": "Encore"}, headers=headers
        )
        assert_problem(again, 409, "not_cancellable")
        assert (await audit_actions(session, voucher_id))[-1] == "voucher.cancelled"

    async def test_redeemed_cheques_stay(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        issued = await create_voucher(session, settings)
        await service.take_amount(session, issued.voucher.id or 0, 200_000, paris_today())
        with pytest.raises(VoucherNotCancellable):
            await service.cancel(session, issued.voucher.id or 0, "Trop tard")
        response = await client.post(
            f"{URL}/{issued.code}/cancel",
            json={"reason": ""},
            headers=await headers_for(Role.admin),
        )
        assert_problem(response, 422, "validation_error")


class TestSweepExpired:
    async def test_records_expiry_and_gives_the_balance_back(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session, budget_cents=1_000_000)
        past = paris_today() - timedelta(days=1)
        untouched = (await create_voucher(session, settings, programme, valid_until=past)).voucher
        partly = (await create_voucher(session, settings, programme, valid_until=past)).voucher
        await service.take_amount(session, partly.id or 0, 50_000, past)
        current = (await create_voucher(session, settings, programme)).voucher
        assert programme.committed_cents == 600_000

        swept = await service.sweep_expired(session, paris_today())
        mine = {v.id: v for v in swept if v.programme_id == programme.id}
        assert set(mine) == {untouched.id, partly.id}
        assert {v.status for v in mine.values()} == {VoucherStatus.expired}
        await session.refresh(programme)
        assert programme.committed_cents == 200_000 + 50_000
        assert current.status is VoucherStatus.issued
        assert (await audit_actions(session, partly.id or 0))[-1] == "voucher.expired"
        assert [
            v
            for v in await service.sweep_expired(session, paris_today())
            if v.programme_id == programme.id
        ] == []

    async def test_expiry_is_seen_before_the_sweep(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        voucher = (
            await create_voucher(session, settings, valid_until=paris_today() - timedelta(days=1))
        ).voucher
        assert voucher.status is VoucherStatus.issued
        assert voucher.status_on(paris_today()) is VoucherStatus.expired


class TestLedger:
    async def test_issuance_commits_the_amount_and_a_cancellation_releases_the_rest(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        programme = await create_programme(session)
        issued = await create_voucher(session, settings, programme)
        voucher = issued.voucher
        await service.take_amount(session, voucher.id or 0, 30_000, paris_today())
        await service.cancel(session, voucher.id or 0, "Entreprise radiée")
        query = select(LedgerEntry).where(
            LedgerEntry.source.in_([f"voucher:{voucher.id}", f"voucher:{voucher.id}:cancelled"])  # type: ignore[attr-defined]
        )
        committed, released = (await session.execute(query.order_by(col(LedgerEntry.id)))).scalars()
        assert (committed.journal, committed.piece_ref, committed.amount_cents) == (
            Journal.commitments,
            issued.code,
            200_000,
        )
        assert committed.label == f"Chèque {issued.code} Atelier Calanques SARL"
        assert committed.entry_date == paris_today()
        assert (committed.debit_account, committed.credit_account) == (
            Account.commitment,
            Account.programme,
        )
        assert committed.credit_aux == f"P{programme.id:06d}"
        assert committed.credit_aux_label == programme.name
        assert released.label == f"Chèque {issued.code} annulé : solde libéré"
        assert (released.amount_cents, released.reverses_id) == (170_000, committed.id)
        assert released.entry_date == paris_today()
        assert (released.debit_account, released.credit_account) == (
            Account.programme,
            Account.commitment,
        )

    async def test_an_expired_cheque_releases_its_balance_as_expired(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        past = paris_today() - timedelta(days=1)
        voucher = (await create_voucher(session, settings, valid_until=past)).voucher
        await service.sweep_expired(session, paris_today())
        query = select(LedgerEntry).where(
            col(LedgerEntry.source) == f"voucher:{voucher.id}:expired"
        )
        released = (await session.execute(query)).scalar_one()
        assert released.label == f"Chèque {voucher.code} expiré : solde libéré"
        assert released.amount_cents == 200_000

    async def test_even_one_cent_left_is_released(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        voucher = (await create_voucher(session, settings)).voucher
        await service.take_amount(session, voucher.id or 0, voucher.amount_cents - 1, paris_today())
        await service.cancel(session, voucher.id or 0, "Entreprise radiée")
        query = select(LedgerEntry).where(
            col(LedgerEntry.source) == f"voucher:{voucher.id}:cancelled"
        )
        assert (await session.execute(query)).scalar_one().amount_cents == 1
