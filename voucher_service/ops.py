"""Operator endpoints: liveness, readiness and Prometheus metrics."""

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from voucher_service.core import schema
from voucher_service.core.auth.dependencies import AppSettings
from voucher_service.core.db import Database
from voucher_service.core.errors import (
    DatabaseUnavailable,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    problem_responses,
)

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


class MetricsNotPublished(NotFound):
    """Production without ``MCD_METRICS_TOKEN``: the metrics are read by nobody."""

    code = "metrics_not_published"
    title = "Métriques non publiées"


def metrics_reader(request: Request, settings: AppSettings) -> None:
    """With ``MCD_METRICS_TOKEN``, only a caller that presents it as a bearer token; without
    it, anyone in development and nobody in production."""
    if settings.metrics_token is None:
        if settings.is_production:
            raise MetricsNotPublished()
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise Unauthorized()


@router.get(
    "/metrics",
    summary="Prometheus metrics (bearer MCD_METRICS_TOKEN when it is set)",
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}},
        **problem_responses(Unauthorized, MetricsNotPublished),
    },
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
