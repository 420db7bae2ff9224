"""Bank statements (camt.053): settle the transfers the bank booked, undo the ones it
returned, keep every other line for a person to look at.

Each entry is first classified (``matching``: which transfers it settles or returns, or
why none), then applied (``settlement``), one entry after the other, so that an entry
sees what the ones before it did. Anything that moves nothing is kept as an unmatched
line with the reason in French.

A statement is imported once: its account and its id are unique together, and
importing it again changes nothing and says so. A transfer that is already settled is
never settled twice, nor a returned one returned twice.
"""

import hashlib
from dataclasses import dataclass, field

from fastapi import UploadFile
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import iban as stdnum_iban

from voucher_service.core import audit, clock, db
from voucher_service.core.config import Settings
from voucher_service.payouts import camt, matching, repository, settlement
from voucher_service.payouts.errors import StatementAlreadyImporting
from voucher_service.payouts.matching import Action, Outcome
from voucher_service.payouts.models import BankStatementImport, StatementLine
from voucher_service.payouts.schemas import (
    StatementImportResult,
    StatementLinePublic,
    StatementResult,
)


@dataclass
class ImportedStatement:
    statement_id: str
    already_imported: bool
    account_iban: str
    paying_account: bool  # only the paying account's statements settle anything
    lines: list[StatementLine] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # EndToEndIds
    returned: list[str] = field(default_factory=list)


@db.atomic
async def import_upload(
    session: AsyncSession, upload: UploadFile, settings: Settings
) -> StatementImportResult:
    """Imports the uploaded statement, read up to one byte over the limit: the parser
    refuses a larger one (413). What the API answers and the accounting page shows."""
    data = await upload.read(settings.max_statement_bytes + 1)
    results = await import_statement(session, data, settings)
    return StatementImportResult(statements=[_public(result) for result in results])


def _public(result: ImportedStatement) -> StatementResult:
    return StatementResult(
        statement_id=result.statement_id,
        already_imported=result.already_imported,
        account_iban=result.account_iban,
        paying_account=result.paying_account,
        settled=result.settled,
        returned=result.returned,
        matched=[StatementLinePublic.model_validate(x) for x in result.lines if x.matched],
        unmatched=[StatementLinePublic.model_validate(x) for x in result.lines if not x.matched],
    )


async def import_statement(
    session: AsyncSession, data: bytes, settings: Settings
) -> list[ImportedStatement]:
    """Every statement of a camt.053 document; raises InvalidStatement when unreadable.

    A statement of another account than the paying one is imported with every line
    unmatched, so that it is reported as such and importing it again changes nothing."""
    statements = camt.parse_statements(data, max_bytes=settings.max_statement_bytes)
    digest = hashlib.sha256(data).hexdigest()
    paying_iban = stdnum_iban.compact(settings.payout_debtor_iban)
    results = []
    for statement in statements:
        paying = statement.account_iban == paying_iban
        known = await repository.statement_import(session, statement.account_iban, statement.id)
        if known is None:
            results.append(await _import_one(session, statement, digest, paying))
            continue
        assert known.id is not None
        lines = await repository.lines_of(session, known.id)
        results.append(ImportedStatement(statement.id, True, statement.account_iban, paying, lines))
    return results


async def _import_one(
    session: AsyncSession, statement: camt.Statement, digest: str, paying: bool
) -> ImportedStatement:
    imported = await _record_import(session, statement, digest)
    assert imported.id is not None
    result = ImportedStatement(statement.id, False, statement.account_iban, paying)
    batches = await _reconcile(session, statement, imported.id, result)
    session.add_all(result.lines)
    await session.flush()
    for batch_id in sorted(batches):
        await settlement.update_batch(session, batch_id)
    audit.record(
        session,
        "bank_statement.imported",
        "bank_statement_import",
        imported.id,
        after={
            "statement_id": statement.id,
            "lines": len(result.lines),
            "settled": result.settled,
            "returned": result.returned,
        },
    )
    return result


async def _record_import(
    session: AsyncSession, statement: camt.Statement, digest: str
) -> BankStatementImport:
    imported = BankStatementImport(
        statement_id=statement.id, account_iban=statement.account_iban, raw_digest=digest
    )
    try:
        async with session.begin_nested():
            session.add(imported)
            await session.flush()
    except IntegrityError as error:  # imported at the same moment by another request
        raise StatementAlreadyImporting(statement_id=statement.id) from error
    return imported


async def _reconcile(
    session: AsyncSession, statement: camt.Statement, import_id: int, result: ImportedStatement
) -> set[int]:
    """Each entry classified, then applied, in the statement's order, its line kept in
    ``result``; returns the batches whose transfers moved. Another account's statement
    moves nothing. The transfers the statement names stay locked until the import commits:
    a statement imported at the same moment waits, then sees them settled."""
    named = matching.named_end_to_end_ids(statement) if result.paying_account else set()
    known = await repository.lock_transfers_named(session, named)
    other_account = matching.unmatched(
        f"Relevé du compte {statement.account_iban}, qui n'est pas le compte de paiement "
        "des experts : rien n'est rapproché"
    )
    batches: set[int] = set()
    for entry in statement.entries:
        paying = result.paying_account
        outcome = await matching.classify(session, entry, known) if paying else other_account
        await _apply(session, entry, outcome, result)
        batches.update(t.batch_id for t, _ in outcome.matches)
        result.lines.append(_line(import_id, entry, outcome))
    return batches


async def _apply(
    session: AsyncSession, entry: camt.Entry, outcome: Outcome, result: ImportedStatement
) -> None:
    booked_on = entry.booking_date or clock.paris_today()
    for transfer, reason in outcome.matches:
        if outcome.action is Action.settle:
            await settlement.settle_transfer(session, transfer, booked_on)
            result.settled.append(transfer.end_to_end_id)
        else:
            await settlement.return_transfer(session, transfer, reason, booked_on)
            result.returned.append(transfer.end_to_end_id)


def _line(import_id: int, entry: camt.Entry, outcome: Outcome) -> StatementLine:
    transfers = [transfer for transfer, _ in outcome.matches]
    return StatementLine(
        import_id=import_id,
        entry_ref=(entry.entry_ref or "")[:35] or None,
        amount_cents=entry.amount_cents,
        credit_debit=entry.credit_debit,
        matched=bool(transfers),
        matched_transfer_id=transfers[0].id if len(transfers) == 1 else None,
        note=outcome.note[:300],
    )
