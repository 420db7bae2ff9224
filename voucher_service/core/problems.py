"""Exception handlers: every error leaves as problem+json, or as a French page for browsers."""

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from voucher_service.core.errors import (
    PROBLEM_JSON,
    DatabaseUnavailable,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unprocessable,
    UnsupportedMediaType,
)

log = logging.getLogger("voucher_service.errors")

HtmlRenderer = Callable[[Request, ServiceError], Response]

_STATUS_ERRORS: dict[int, type[ServiceError]] = {
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/.well-known/", "/metrics", "/healthz", "/readyz")):
        return False
    return "text/html" in request.headers.get("accept", "")


def problem_response(request: Request, error: ServiceError) -> JSONResponse:
    body = error.to_problem()
    body["instance"] = request.url.path
    return JSONResponse(
        body, status_code=error.status, media_type=PROBLEM_JSON, headers=error.headers
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e["loc"]],
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors()
    ]


def _validation_error(exc: RequestValidationError) -> ServiceError:
    errors = _field_errors(exc)
    if any(e["type"] == "json_invalid" for e in errors):
        return Unprocessable("Le corps de la requête n'est pas un JSON valide.", errors=errors)
    if any(e["type"] == "model_attributes_type" for e in errors):
        return UnsupportedMediaType(
            "Le corps de la requête doit être du JSON (Content-Type: application/json).",
            errors=errors,
        )
    fields = ", ".join(str(e["loc"][-1]) for e in errors)
    return Unprocessable(f"Champs invalides : {fields}.", errors=errors)


def install_error_handlers(app: FastAPI, render_html: HtmlRenderer | None = None) -> None:
    def respond(request: Request, error: ServiceError) -> Response:
        if render_html is not None and wants_html(request):
            return render_html(request, error)
        return problem_response(request, error)

    async def on_service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return respond(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return respond(request, _validation_error(exc))

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc.__cause__, ServiceError):
            return respond(request, exc.__cause__)
        kind = _STATUS_ERRORS.get(exc.status_code)
        error = kind() if kind else ServiceError(str(exc.detail))
        if kind is None:
            error.status = exc.status_code  # type: ignore[misc]
        return respond(request, error)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return respond(request, DatabaseUnavailable())

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return await on_database_error(request, exc)
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return respond(request, InternalError())

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(OperationalError, on_database_error)
    app.add_exception_handler(InterfaceError, on_database_error)
    app.add_exception_handler(ConnectionError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
