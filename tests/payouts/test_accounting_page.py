"""The accountant's page: batches, the SEPA download, a statement upload, the exports."""

import re
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.payouts.camt_builder import StatementEntry, StatementTransaction, build_statement
from tests.web.test_notifications_admin import csrf_of, log_in
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.core.formatting import euros, french_date
from voucher_service.payouts import batches, labels, repository, statements
from voucher_service.payouts.business_days import requested_execution_date
from voucher_service.payouts.models import BatchStatus, PayoutBatch, TransferStatus

PAGE = "/accounting"
HTML = {"accept": "text/html"}


async def test_other_roles_are_refused(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    anonymous = await client.get(PAGE, headers=HTML)
    assert anonymous.status_code == 303
    await log_in(client, session, settings, Role.expert)
    assert (await client.get(PAGE, headers=HTML)).status_code == 403


async def test_an_accountant_pays_the_experts_from_the_page(
    client: AsyncClient, session: AsyncSession, settings: Settings, two_experts: dict[str, Any]
) -> None:
    await log_in(client, session, settings, Role.accountant)
    page = await client.get(PAGE, headers=HTML)
    assert page.status_code == 200 and "Nouveau lot de virements" in page.text
    csrf = csrf_of(page.text)
    refused = await client.post(
        f"{PAGE}/batches", data={"cut_off": paris_today().isoformat()}, headers=HTML
    )
    assert refused.status_code == 403
    created = await client.post(
        f"{PAGE}/batches",
        data={"cut_off": paris_today().isoformat(), "csrf_token": csrf},
        headers=HTML,
    )
    assert created.status_code == 303, created.text
    batch_id = int(created.headers["location"].split("=")[1])
    listing = await client.get(created.headers["location"], headers=HTML)
    assert f"Le lot de virements n°{batch_id} est créé" in listing.text
    draft_file = await client.get(f"{PAGE}/batches/{batch_id}/sepa.xml", headers=HTML)
    assert draft_file.status_code == 409
    assert "pas encore exporté" in draft_file.text
    export = f"{PAGE}/batches/{batch_id}/export"
    forged = await client.post(export, headers=HTML)
    assert forged.status_code == 403
    batch = await session.get(PayoutBatch, batch_id)
    assert batch is not None
    await session.refresh(batch)
    assert batch.status is BatchStatus.draft
    exported = await client.post(export, data={"csrf_token": csrf}, headers=HTML)
    assert exported.status_code == 303
    assert exported.headers["location"] == f"{PAGE}?exported={batch_id}"
    listing = await client.get(exported.headers["location"], headers=HTML)
    assert f"Le lot n°{batch_id} est exporté et ne peut plus être annulé" in listing.text
    sepa = await client.get(f"{PAGE}/batches/{batch_id}/sepa.xml")
    assert sepa.status_code == 200 and b"pain.001.001.03" in sepa.content
    assert (await client.get(f"{PAGE}/batches/{batch_id}/sepa.xml")).content == sepa.content
    assert batch is not None
    await session.refresh(batch)
    assert batch.file_created_at is not None
    execution = requested_execution_date(batch.file_created_at, settings.payout_cutoff_hour)
    assert f"<ReqdExctnDt>{execution.isoformat()}</ReqdExctnDt>" in sepa.text
    listing = await client.get(PAGE, headers=HTML)
    assert f"exécution demandée le {french_date(execution)}" in listing.text
    statement = build_statement(
        [StatementEntry(batch.total_cents, batch_message_id=batch.message_id)],
        statement_id=f"STMT-PAGE-{batch_id}",
    )
    uploaded = await client.post(
        f"{PAGE}/statements",
        data={"csrf_token": csrf},
        files={"file": ("releve.xml", statement, "application/xml")},
        headers=HTML,
    )
    assert uploaded.status_code == 200, uploaded.text
    assert "virement(s) réglé(s)" in uploaded.text and "Réglé" in uploaded.text
    period = {"from": paris_today().isoformat(), "to": paris_today().isoformat()}
    csv = await client.get(f"{PAGE}/exports/reconciliation.csv", params=period)
    assert csv.status_code == 200 and csv.content.startswith("\ufeffCode".encode())
    fec = await client.get(f"{PAGE}/exports/fec.txt", params=period)
    assert fec.status_code == 200 and fec.content.startswith(b"JournalCode|")


class TestRefusalsStayOnThePage:
    """A refused action shows its French reason beside its form, the typed values kept."""

    async def _page(self, client: AsyncClient, session: AsyncSession, settings: Settings) -> str:
        await log_in(client, session, settings, Role.accountant)
        return csrf_of((await client.get(PAGE, headers=HTML)).text)

    async def test_a_batch_with_nothing_to_pay(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        csrf = await self._page(client, session, settings)
        response = await client.post(
            f"{PAGE}/batches", data={"cut_off": "2020-01-15", "csrf_token": csrf}, headers=HTML
        )
        assert response.status_code == 422
        form = _section(response.text, "new-batch")
        assert 'id="batch-error"' in form
        assert "Aucune prestation impayée au 15/01/2020" in form and "2020-01-15." not in form
        assert 'value="2020-01-15"' in form and 'aria-describedby="batch-error"' in form
        assert "Lots de virements" in response.text

    async def _draft(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> tuple[str, int]:
        """The page's CSRF token and a draft batch of what is owed today."""
        csrf = await self._page(client, session, settings)
        batch = await batches.create_batch(session, paris_today())
        assert batch.id is not None
        return csrf, batch.id

    async def test_cancelling_a_batch_sent_to_the_bank(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        two_experts: dict[str, Any],
    ) -> None:
        csrf, batch_id = await self._draft(client, session, settings)
        await batches.export_batch(session, batch_id, settings)
        response = await client.post(
            f"{PAGE}/batches/{batch_id}/cancel", data={"csrf_token": csrf}, headers=HTML
        )
        assert response.status_code == 409
        assert "Ce lot de virements ne peut plus être annulé" in _section(response.text, "batches")

    async def test_reading_a_drafts_file_leaves_it_cancellable(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        two_experts: dict[str, Any],
    ) -> None:
        csrf, batch_id = await self._draft(client, session, settings)
        read = await client.get(f"{PAGE}/batches/{batch_id}/sepa.xml", headers=HTML)
        assert read.status_code == 409
        response = await client.post(
            f"{PAGE}/batches/{batch_id}/cancel", data={"csrf_token": csrf}, headers=HTML
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"{PAGE}?cancelled={batch_id}"

    async def test_exporting_a_cancelled_batch(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        two_experts: dict[str, Any],
    ) -> None:
        csrf, batch_id = await self._draft(client, session, settings)
        await batches.cancel_batch(session, batch_id)
        response = await client.post(
            f"{PAGE}/batches/{batch_id}/export", data={"csrf_token": csrf}, headers=HTML
        )
        assert response.status_code == 409
        assert "Ce lot de virements est annulé" in _section(response.text, "batches")

    async def test_a_file_that_is_no_statement(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        csrf = await self._page(client, session, settings)
        response = await client.post(
            f"{PAGE}/statements",
            data={"csrf_token": csrf},
            files={"file": ("facture.xml", b"<facture>rien</facture>", "application/xml")},
            headers=HTML,
        )
        assert response.status_code == 422
        form = _section(response.text, "statement")
        assert "Relevé bancaire illisible ou refusé" in form and "« facture.xml »" in form

    @pytest.mark.parametrize("path", ["reconciliation.csv", "fec.txt"])
    @pytest.mark.parametrize(
        ("start", "end", "reason"),
        [
            ("2027-02-01", "2027-01-01", "La date de début doit précéder la date de fin"),
            ("2010-01-01", "2025-01-01", "Période de plus de dix ans"),
        ],
    )
    async def test_an_export_of_a_wrong_period(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        path: str,
        start: str,
        end: str,
        reason: str,
    ) -> None:
        await self._page(client, session, settings)
        response = await client.get(
            f"{PAGE}/exports/{path}", params={"from": start, "to": end}, headers=HTML
        )
        assert response.status_code == 422 and response.headers["content-type"].startswith(
            "text/html"
        )
        form = _section(response.text, "exports")
        assert reason in form and "précéder" not in form.replace(reason, "")
        day, month, year = start.split("-")[::-1]
        assert f"du {day}/{month}/{year} au" in form
        assert f'value="{start}"' in form and f'value="{end}"' in form


def _section(html: str, heading_id: str) -> str:
    """The page's section titled by the heading ``heading_id``."""
    return html.split(f'aria-labelledby="{heading_id}"')[1].split("</section>")[0]


ENGLISH_STATES = re.compile(
    r"\b(draft|exported|settled|partially_settled|pending|returned|cancelled|DBIT|CRDT)\b"
)


def _visible_text(html: str) -> str:
    """What a reader sees: the markup (class names, links) taken away."""
    body = html.split("<main", 1)[1]
    return re.sub(r"<[^>]+>", " ", body)


async def _settled_and_returned(
    session: AsyncSession, settings: Settings, experts: dict[str, Any]
) -> tuple[PayoutBatch, str]:
    """A batch sent to the bank: the first expert paid, the second's transfer returned
    (AC04), and a bank fee left unmatched; returns the batch and the statement id."""
    batch = await batches.create_batch(session, paris_today())
    assert batch.id is not None
    await batches.export_batch(session, batch.id, settings)
    transfers = {t.expert_id: t for t in await repository.transfers_of(session, batch.id)}
    first, second = transfers[experts["first"].id], transfers[experts["second"].id]
    paid = [
        StatementEntry(
            t.amount_cents,
            entry_ref=f"E{n}",
            transactions=[StatementTransaction(t.end_to_end_id, t.amount_cents)],
        )
        for n, t in enumerate((first, second))
    ]
    returned = StatementEntry(
        second.amount_cents,
        credit_debit="CRDT",
        entry_ref="RET",
        bank_code=("PMNT", "ICDT", "RRTN"),
        transactions=[
            StatementTransaction(second.end_to_end_id, second.amount_cents, return_reason="AC04")
        ],
    )
    fees = StatementEntry(1_250, entry_ref="FEES", bank_code=("ACMT", "MDOP", "CHRG"))
    statement_id = f"STMT-DETAIL-{batch.id}"
    await statements.import_statement(
        session, build_statement([*paid, returned, fees], statement_id=statement_id), settings
    )
    return batch, statement_id


class TestBatchAndStatementViews:
    async def test_a_batch_shows_its_transfers_and_the_cheques_they_pay(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        two_experts: dict[str, Any],
    ) -> None:
        batch, _ = await _settled_and_returned(session, settings, two_experts)
        await log_in(client, session, settings, Role.accountant)
        listing = await client.get(PAGE, headers=HTML)
        assert f'href="/accounting/batches/{batch.id}"' in listing.text
        assert ENGLISH_STATES.search(_visible_text(listing.text)) is None
        response = await client.get(f"{PAGE}/batches/{batch.id}", headers=HTML)
        assert response.status_code == 200
        text = _visible_text(response.text)
        assert f"Lot de virements n°{batch.id}" in text and "Partiellement réglé" in text
        assert "Hélène Conseil Numérique" in text and two_experts["second"].legal_name in text
        assert "Payé" in text and "Retourné par la banque" in text
        assert "AC04 — Compte clôturé" in text
        for key in ("r1", "r2", "r3"):
            redemption = two_experts[key]
            assert redemption.invoice_reference in text
            assert euros(redemption.amount_cents) in text
        assert ENGLISH_STATES.search(text) is None, ENGLISH_STATES.search(text)

    async def test_the_statements_imported_are_listed_with_their_lines(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        two_experts: dict[str, Any],
    ) -> None:
        _, statement_id = await _settled_and_returned(session, settings, two_experts)
        await log_in(client, session, settings, Role.accountant)
        listing = _section((await client.get(PAGE, headers=HTML)).text, "imported-statements")
        summary = listing.split(f"Relevé {statement_id}")[1].split("</li>")[0]
        assert "FR76 3000 6000 0112 3456 7890 189" in summary
        assert re.search(r"Lignes rapprochées</dt><dd>3<", summary)
        assert re.search(r"Lignes non rapprochées</dt><dd>1<", summary)
        link = re.search(r'href="(/accounting/statements/\d+)"', summary)
        assert link is not None
        detail = await client.get(link.group(1), headers=HTML)
        assert detail.status_code == 200
        text = _visible_text(detail.text)
        assert f"Relevé {statement_id}" in text and "FEES" in text and "RET" in text
        assert "Débit" in text and "Crédit" in text and "Non rapprochée" in text
        assert "Retour (AC04)" in text and euros(1_250) in text
        assert ENGLISH_STATES.search(text) is None, ENGLISH_STATES.search(text)

    async def test_only_the_accounting_roles_see_them(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        two_experts: dict[str, Any],
    ) -> None:
        batch, _ = await _settled_and_returned(session, settings, two_experts)
        paths = [f"{PAGE}/batches/{batch.id}", f"{PAGE}/statements/1"]
        for path in paths:
            assert (await client.get(path, headers=HTML)).status_code == 303
        await log_in(client, session, settings, Role.expert)
        for path in paths:
            assert (await client.get(path, headers=HTML)).status_code == 403
        await log_in(client, session, settings, Role.admin)
        assert (await client.get(paths[0], headers=HTML)).status_code == 200

    async def test_an_unknown_batch_or_statement(
        self, client: AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        await log_in(client, session, settings, Role.accountant)
        for path, title in [
            ("batches/2147483647", "Lot de virements introuvable"),
            ("statements/2147483647", "Relevé bancaire introuvable"),
        ]:
            response = await client.get(f"{PAGE}/{path}", headers=HTML)
            assert response.status_code == 404 and title in response.text


def test_every_state_has_its_french_word() -> None:
    assert set(labels.BATCH_STATUS) == set(BatchStatus)
    assert set(labels.TRANSFER_STATUS) >= {*TransferStatus, "cancelled"}
    assert labels.return_reason("AC04") == "AC04 — Compte clôturé"
    assert labels.return_reason("ZZ99") == "Motif ZZ99"
    assert labels.return_reason(None) == "Motif non communiqué par la banque"
