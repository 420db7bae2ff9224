"""Operator endpoints: liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from voucher_service.core import schema
from voucher_service.core.db import Database
from voucher_service.core.errors import DatabaseUnavailable, ServiceUnavailable, problem_responses

router = APIRouter(tags=["ops"])


class SchemaNotMigrated(ServiceUnavailable):
    code = "schema_not_migrated"
    title = "Base de données non migrée : lancez « voucher-service migrate »"


class Health(BaseModel):
    status: str


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the database is reachable and migrated",
    responses=problem_responses(DatabaseUnavailable, SchemaNotMigrated),
)
async def readyz(request: Request) -> Health:
    database: Database = request.app.state.database
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    if not await schema.is_at_head(database.engine):
        raise SchemaNotMigrated()
    return Health(status="ready")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
