"""Exception handlers: every error leaves as problem+json, or as a French page for browsers."""

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from voucher_service.core.errors import (
    PROBLEM_JSON,
    DatabaseConflict,
    DatabaseUnavailable,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unprocessable,
    UnsupportedMediaType,
)
from voucher_service.core.middleware import route_template

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


def _validation_error(request: Request, exc: RequestValidationError) -> ServiceError:
    errors = _field_errors(exc)
    if any(e["type"] == "json_invalid" for e in errors):
        return Unprocessable("Le corps de la requête n'est pas un JSON valide.", errors=errors)
    is_json = "json" in request.headers.get("content-type", "")
    if not is_json and any(e["type"] == "model_attributes_type" for e in errors):
        return UnsupportedMediaType(
            "Le corps de la requête doit être du JSON (Content-Type: application/json).",
            errors=errors,
        )
    fields = ", ".join(str(e["loc"][-1]) for e in errors)
    return Unprocessable(f"Champs invalides : {fields}.", errors=errors)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (routers may split a path's methods)."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex = getattr(context, "path_regex", None) or compile_path(context.path_format or "")[0]
        if regex.match(request.url.path):
            methods |= context.methods or set()
    return sorted(methods)


def _caused_by_overflow(error: BaseException | None) -> bool:
    """A value a driver could not encode (asyncpg wraps an OverflowError twice)."""
    for _ in range(4):
        if error is None:
            return False
        if isinstance(error, OverflowError):
            return True
        error = error.__cause__ or getattr(error, "orig", None)
    return False


# SQLSTATEs of a server that is down, restarting or full: class 08 (connection exception),
# 57P01-57P03 (shut down, crashed, starting up or shutting down), 53300 (too many connections).
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "53300")


def _database_unavailable(error: DBAPIError) -> bool:
    """A lost connection, or one the server refused for now (asyncpg's refusals while
    PostgreSQL starts or stops arrive as a plain DBAPIError, not an OperationalError)."""
    if error.connection_invalidated:
        return True
    state = str(getattr(error.orig, "sqlstate", None) or "")
    return state.startswith("08") or state in _UNAVAILABLE_STATES


# SQLSTATEs of a transaction PostgreSQL rolled back to break a tie with another one:
# 40P01 (deadlock detected) and 40001 (serialization failure).
_CONFLICT_STATES = ("40P01", "40001")


def _database_conflict(error: DBAPIError) -> bool:
    return str(getattr(error.orig, "sqlstate", None) or "") in _CONFLICT_STATES


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
        return respond(request, _validation_error(request, exc))

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc.__cause__, ServiceError):
            return respond(request, exc.__cause__)
        kind = _STATUS_ERRORS.get(exc.status_code, Unprocessable)
        error = kind("Le corps de la requête est illisible.") if kind is Unprocessable else kind()
        error.headers.update(exc.headers or {})
        if exc.status_code == 405:
            error.headers["Allow"] = ", ".join(allowed_methods(request))
        return respond(request, error)

    async def on_model_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ValidationError)
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return respond(request, Unprocessable("Données incohérentes.", errors=errors))

    async def on_out_of_range(request: Request, exc: Exception) -> Response:
        return respond(request, Unprocessable("Une valeur dépasse les bornes acceptées."))

    async def on_database_error(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return respond(request, DatabaseUnavailable())

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, DBAPIError) and _database_unavailable(exc):
            return await on_database_error(request, exc)
        if isinstance(exc, DBAPIError) and _database_conflict(exc):
            log.warning("database conflict: %s", exc.orig.__class__.__name__)
            return respond(request, DatabaseConflict())
        if isinstance(exc, DBAPIError) and _caused_by_overflow(exc):
            return await on_out_of_range(request, exc)
        log.exception("unexpected error on %s %s", request.method, route_template(request.scope))
        return respond(request, InternalError())

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(ValidationError, on_model_error)
    app.add_exception_handler(DataError, on_out_of_range)
    app.add_exception_handler(OverflowError, on_out_of_range)
    app.add_exception_handler(OperationalError, on_database_error)
    app.add_exception_handler(InterfaceError, on_database_error)
    app.add_exception_handler(ConnectionError, on_database_error)
    # Here, not only under Exception: that handler runs in the outermost middleware, which
    # re-raises after answering, so uvicorn drops the keep-alive connection.
    app.add_exception_handler(DBAPIError, on_unexpected)
    app.add_exception_handler(Exception, on_unexpected)
