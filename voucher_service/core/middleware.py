"""ASGI middleware: request id and JSON access log, Prometheus metrics, body size limit,
security headers."""

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voucher_service.core.context import request_id
from voucher_service.core.errors import (
    PROBLEM_JSON,
    PayloadTooLarge,
    ServiceError,
    Unprocessable,
)
from voucher_service.core.logs import fingerprint

log = logging.getLogger("voucher_service.access")

REQUESTS = Counter("mcd_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "mcd_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

PAGE_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        b"script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'self'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"),
]
NUL_MARKERS = (b"\x00", b"\\u0000")
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def route_template(scope: Scope) -> str:
    """The matched route's full path template (``/api/v1/vouchers/{code}``), or
    ``unmatched``: what logs and metrics name a request by, never its path."""
    state = scope["app"].state
    templates: dict[int, str] | None = getattr(state, "route_templates", None)
    if templates is None:
        templates = state.route_templates = {
            id(context.original_route): context.path_format or ""
            for context in iter_route_contexts(scope["app"].routes)
        }
    return templates.get(id(scope.get("route")), "unmatched")


class RequestContextMiddleware:
    """Request id, access log, metrics and security headers around every request."""

    def __init__(self, app: ASGIApp, fingerprint_key: bytes, hsts: bool = False) -> None:
        self.app = app
        self.fingerprint_key = fingerprint_key
        self.headers = PAGE_SECURITY_HEADERS + ([HSTS] if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming[:64] if incoming.isprintable() and incoming else uuid.uuid4().hex
        token = request_id.set(rid)
        started, status = time.perf_counter(), 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                own = message.get("headers", [])
                named = {name.lower() for name, _ in own}
                message["headers"] = [
                    *own,
                    (b"x-request-id", rid.encode()),
                    *(header for header in self.headers if header[0] not in named),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self._observe(scope, status, time.perf_counter() - started, rid)
            request_id.reset(token)

    def _observe(self, scope: Scope, status: int, elapsed: float, rid: str) -> None:
        route = route_template(scope)
        REQUESTS.labels(scope["method"], route, str(status)).inc()
        LATENCY.labels(scope["method"], route).observe(elapsed)
        log.info(
            json.dumps(
                {
                    "request_id": rid,
                    "method": scope["method"],
                    "route": route,
                    "path_print": fingerprint(self.fingerprint_key, scope["path"]),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                }
            )
        )


class InvalidCharacter(Unprocessable):
    code = "invalid_character"
    title = "Le texte envoyé contient un caractère nul, refusé"


class InputGuardMiddleware:
    """Refuses, before anything is parsed, bodies over the limit (413) and NUL characters
    (422): no text of this service may hold one, and PostgreSQL cannot store one.

    ``path_limits`` gives some paths (uploads) their own limit instead of ``max_bytes``."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        limit = self.path_limits.get(scope["path"], self.max_bytes)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, _too_large(limit))
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            await self._refuse(scope, send, InvalidCharacter())
            return
        markers = NUL_MARKERS + (
            (b"%00",) if b"urlencoded" in headers.get(b"content-type", b"") else ()
        )
        await self.app(scope, self._guarded(receive, markers, limit), send)

    @staticmethod
    def _guarded(receive: Receive, markers: tuple[bytes, ...], limit: int) -> Receive:
        received, tail = 0, b""

        async def guarded_receive() -> Message:
            nonlocal received, tail
            message = await receive()
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise _too_large(limit)
            window = tail + chunk
            if any(marker in window for marker in markers):
                raise InvalidCharacter()
            tail = window[-6:]
            return message

        return guarded_receive

    @staticmethod
    async def _refuse(scope: Scope, send: Send, error: ServiceError) -> None:
        body: dict[str, Any] = error.to_problem()
        body["instance"] = scope["path"]
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"La taille maximale est de {limit} octets.")
