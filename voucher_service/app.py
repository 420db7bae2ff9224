"""create_app: the one place that knows every domain and assembles the routers."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from experts import endpoints as expert_endpoints
from experts import redemption_endpoints
from notifications import endpoints as notification_endpoints
from notifications import service as notifications_service
from voucher_service import ops
from voucher_service.applications import endpoints as application_endpoints
from voucher_service.applications import status_endpoints as application_status_endpoints
from voucher_service.applications.registry import RegistryClient
from voucher_service.core import audit, audit_checkpoints, audit_endpoints, openapi
from voucher_service.core.auth import endpoints as auth_endpoints
from voucher_service.core.auth import users_endpoints
from voucher_service.core.config import ApiDocs, Settings, get_settings
from voucher_service.core.db import Database
from voucher_service.core.logs import fingerprint_key
from voucher_service.core.middleware import InputGuardMiddleware, RequestContextMiddleware
from voucher_service.core.problems import install_error_handlers
from voucher_service.payouts import endpoints as payout_endpoints
from voucher_service.programmes import endpoints as programme_endpoints
from voucher_service.vouchers import endpoints as voucher_endpoints
from voucher_service.vouchers import pdf_workers
from voucher_service.web import (
    account,
    accounting,
    api_docs,
    cheques_admin,
    expert_decisions,
    expert_pages,
    experts_admin,
    notifications_admin,
    password_reset,
    programmes_admin,
    status_pages,
    two_factor,
    users_admin,
)
from voucher_service.web import applications as application_pages
from voucher_service.web.rendering import render_error

DESCRIPTION = """The Région Sud's "Mon coach digital" cheques, end to end: applications,
eligibility, review within a budget, signed QR cheques, redemption by accredited experts,
SEPA payouts and reconciliation. Errors are RFC 9457 `application/problem+json` with a
stable `code`."""

API_ROUTERS = [
    auth_endpoints.router,
    users_endpoints.router,
    programme_endpoints.router,
    expert_endpoints.router,
    redemption_endpoints.router,
    application_endpoints.router,
    application_status_endpoints.router,
    voucher_endpoints.router,
    voucher_endpoints.keys_router,
    notification_endpoints.router,
    audit_endpoints.router,
    payout_endpoints.router,
    ops.router,
]
PAGE_ROUTERS = [
    account.router,
    accounting.router,
    application_pages.router,
    notifications_admin.router,
    expert_pages.router,
    password_reset.router,
    status_pages.router,
    two_factor.router,
    programmes_admin.router,
    users_admin.router,
    experts_admin.router,
    expert_decisions.router,
    cheques_admin.router,
]


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database: Database = app.state.database

        async def checkpoint() -> None:
            await audit_checkpoints.checkpoint_if_due(
                database, settings, notifications_service.enqueue
            )

        sealer = asyncio.create_task(
            audit.keep_sealing(database, settings.audit_seal_seconds, then=checkpoint)
        )
        yield
        sealer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sealer
        await app.state.registry.aclose()
        await app.state.database.engine.dispose()
        pdf_workers.shutdown()

    docs = settings.api_docs is ApiDocs.public
    app = FastAPI(
        title="Mon coach digital",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
        # FastAPI's own pages load Swagger UI and ReDoc from a CDN, which the CSP forbids:
        # /docs is served from the vendored files instead (web/api_docs.py).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.notify = notifications_service.enqueue
    app.state.database = database or Database.from_settings(settings)
    app.state.registry = RegistryClient.from_settings(settings)
    for router in [*API_ROUTERS, *PAGE_ROUTERS, *([api_docs.router] if docs else [])]:
        app.include_router(router)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    install_error_handlers(app, render_html=render_error)
    uploads = (payout_endpoints.STATEMENT_UPLOAD_PATH, accounting.STATEMENT_UPLOAD_PATH)
    app.add_middleware(
        InputGuardMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits=dict.fromkeys(uploads, settings.max_statement_upload_bytes),
    )
    app.add_middleware(
        RequestContextMiddleware,
        fingerprint_key=fingerprint_key(settings.secret_key.get_secret_value()),
        hsts=settings.is_production,
    )
    openapi.install(app)
    return app
