"""Payout batches, their SEPA files and the bank statements that settle them."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core.auth.dependencies import AccountantUser, AppSettings
from voucher_service.core.db import DbSession, EntityId, StreamSession
from voucher_service.core.errors import Forbidden, Unauthorized, problem_responses
from voucher_service.core.pagination import PageNumber, PerPage
from voucher_service.payouts import approval, batches, downloads, repository, sepa, statements
from voucher_service.payouts.errors import (
    BatchCancelled,
    BatchNotApprovable,
    BatchNotApproved,
    BatchNotCancellable,
    BatchNotExported,
    BatchNotFound,
    InvalidPeriod,
    InvalidSepaFile,
    InvalidStatement,
    InvalidTransfer,
    NothingToPay,
    RedemptionAlreadyBatched,
    SameApprover,
    StatementAlreadyImporting,
    StatementTooLarge,
)
from voucher_service.payouts.models import PayoutBatch
from voucher_service.payouts.schemas import (
    BatchCreate,
    BatchPage,
    BatchPublic,
    BatchSummary,
    StatementImportResult,
    TransferPublic,
)

router = APIRouter(tags=["payouts"])
AUTH = (Unauthorized, Forbidden)


async def batch_public(session: AsyncSession, batch: PayoutBatch) -> BatchPublic:
    assert batch.id is not None
    transfers = [
        TransferPublic.model_validate(
            {
                **t.model_dump(),
                "creditor_name_sepa": sepa.sepa_text(t.creditor_name, sepa.MAX_NAME_LENGTH),
            }
        )
        for t in await repository.transfers_of(session, batch.id)
    ]
    return BatchPublic.model_validate({**batch.model_dump(), "transfers": transfers})


@router.post(
    "/api/v1/payout-batches",
    status_code=201,
    summary="Gather what is owed up to a cut-off into a draft batch",
    responses=problem_responses(*AUTH, NothingToPay, RedemptionAlreadyBatched),
)
async def create_batch(body: BatchCreate, session: DbSession, user: AccountantUser) -> BatchPublic:
    batch = await batches.create_batch(session, body.cut_off)
    return await batch_public(session, batch)


@router.get(
    "/api/v1/payout-batches",
    summary="List payout batches, newest first",
    responses=problem_responses(*AUTH),
)
async def list_batches(
    session: DbSession, user: AccountantUser, page: PageNumber = 1, page_size: PerPage = 50
) -> BatchPage:
    found = await batches.list_batches(session, (page - 1) * page_size, page_size)
    total = await batches.count_batches(session)
    items = [BatchSummary.model_validate(b.model_dump()) for b in found]
    return BatchPage(items=items, total=total, page=page, page_size=page_size)


@router.get(
    "/api/v1/payout-batches/{batch_id:int}",
    summary="One batch with its transfers",
    responses=problem_responses(*AUTH, BatchNotFound),
)
async def get_batch(batch_id: EntityId, session: DbSession, user: AccountantUser) -> BatchPublic:
    return await batch_public(session, await batches.get_batch(session, batch_id))


@router.post(
    "/api/v1/payout-batches/{batch_id:int}/cancel",
    summary="Cancel a draft batch; its redemptions can be paid in another",
    responses=problem_responses(*AUTH, BatchNotFound, BatchNotCancellable),
)
async def cancel_batch(batch_id: EntityId, session: DbSession, user: AccountantUser) -> BatchPublic:
    return await batch_public(session, await batches.cancel_batch(session, batch_id))


@router.post(
    "/api/v1/payout-batches/{batch_id:int}/approve",
    summary="Approve a draft batch as the second person (four eyes on payments)",
    responses=problem_responses(*AUTH, BatchNotFound, SameApprover, BatchNotApprovable),
)
async def approve_batch(
    batch_id: EntityId, session: DbSession, user: AccountantUser
) -> BatchPublic:
    return await batch_public(session, await approval.approve_batch(session, batch_id))


@router.post(
    "/api/v1/payout-batches/{batch_id:int}/export",
    summary="Send a batch to the bank: a draft becomes exported and its SEPA file is fixed",
    responses=problem_responses(
        *AUTH, BatchNotFound, BatchNotApproved, BatchCancelled, InvalidTransfer, InvalidSepaFile
    ),
)
async def export_batch(
    batch_id: EntityId, session: DbSession, user: AccountantUser, settings: AppSettings
) -> BatchPublic:
    return await batch_public(session, await batches.export_batch(session, batch_id, settings))


@router.get(
    "/api/v1/payout-batches/{batch_id:int}/sepa.xml",
    summary="The SEPA credit transfer file (pain.001.001.03) of an exported batch",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "The pain.001 file"},
        **problem_responses(
            *AUTH, BatchNotFound, BatchNotExported, BatchCancelled, InvalidTransfer, InvalidSepaFile
        ),
    },
)
async def batch_sepa(
    batch_id: EntityId, session: DbSession, user: AccountantUser, settings: AppSettings
) -> Response:
    return await downloads.sepa_file(session, batch_id, settings)


STATEMENT_UPLOAD_PATH = "/api/v1/bank-statements"  # has its own body limit (app.py)


@router.post(
    STATEMENT_UPLOAD_PATH,
    summary="Import a camt.053 bank statement: settle, return, list what is left",
    responses=problem_responses(
        *AUTH, InvalidStatement, StatementTooLarge, StatementAlreadyImporting
    ),
)
async def import_statement(
    file: UploadFile, session: DbSession, user: AccountantUser, settings: AppSettings
) -> StatementImportResult:
    return await statements.import_upload(session, file, settings)


# Exports, streamed: the session stays open until the last byte is sent (scope "request").
PeriodStart = Annotated[date, Query(alias="from", description="First day (Paris), inclusive")]
PeriodEnd = Annotated[date, Query(alias="to", description="Last day (Paris), inclusive")]


@router.get(
    "/api/v1/exports/reconciliation.csv",
    summary="One row per cheque issued in the period: redeemed, paid, discrepancies",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The reconciliation (UTF-8, ';')"},
        **problem_responses(*AUTH, InvalidPeriod),
    },
)
async def reconciliation_csv(
    session: StreamSession, user: AccountantUser, start: PeriodStart, end: PeriodEnd
) -> StreamingResponse:
    return downloads.reconciliation(session, start, end)


@router.get(
    "/api/v1/exports/fec.txt",
    summary="The Fichier des Écritures Comptables of the period",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The FEC (ISO-8859-15, '|')"},
        **problem_responses(*AUTH, InvalidPeriod),
    },
)
async def fec_txt(
    session: StreamSession,
    user: AccountantUser,
    settings: AppSettings,
    start: PeriodStart,
    end: PeriodEnd,
) -> StreamingResponse:
    return downloads.fec(session, start, end, settings)
