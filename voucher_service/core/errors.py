"""One error format for every failure: RFC 9457 ``application/problem+json``.

Domains subclass :class:`ServiceError` (``VoucherExpired(Gone)``); endpoints raise them
and declare them with :func:`problem_responses` so that the spec lists them.
"""

from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://moncoachdigital.maregionsud.fr/problems/"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the error is, e.g. ['body', 'siret']")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine-readable ``code``."""

    type: str
    title: str
    status: int
    detail: str | None = None
    code: str
    instance: str | None = None
    errors: list[FieldError] | None = None


# What an error's extensions may not replace; ``errors`` is for them to give.
RESERVED_MEMBERS = frozenset(Problem.model_fields) - {"errors"}


class ServiceError(Exception):
    """A failure a client can understand; ``title`` is French, for people."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Requête invalide"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        reserved = extra.keys() & RESERVED_MEMBERS
        if reserved:
            raise TypeError(f"{sorted(reserved)} are problem members, not extensions")
        super().__init__(detail or self.title)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return body


class BadRequest(ServiceError):
    pass


class Unauthorized(ServiceError):
    status = 401
    code = "not_authenticated"
    title = "Authentification requise"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers["WWW-Authenticate"] = "Bearer"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    title = "Identifiant ou mot de passe incorrect"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"
    title = "Accès refusé"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "Le formulaire a expiré, veuillez le recharger"


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    title = "Ressource introuvable"


class MethodNotAllowed(ServiceError):
    status = 405
    code = "method_not_allowed"
    title = "Méthode non autorisée"


class Conflict(ServiceError):
    status = 409
    code = "conflict"
    title = "Conflit avec l'état actuel"


class Gone(ServiceError):
    status = 410
    code = "gone"
    title = "Ressource expirée"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"
    title = "Contenu trop volumineux"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"
    title = "Type de contenu non pris en charge"


class Unprocessable(ServiceError):
    status = 422
    code = "validation_error"
    title = "Données invalides"


class TooManyRequests(ServiceError):
    status = 429
    code = "too_many_requests"
    title = "Trop de tentatives, veuillez patienter"

    def __init__(self, detail: str | None = None, retry_after: int = 60, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers["Retry-After"] = str(retry_after)


class ServiceUnavailable(ServiceError):
    status = 503
    code = "service_unavailable"
    title = "Service momentanément indisponible"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers["Retry-After"] = "5"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    title = "Base de données momentanément indisponible"


class DatabaseConflict(ServiceUnavailable):
    """A transaction the database gave up on (a deadlock, a serialization failure): the
    same request sent again succeeds or gets its own answer."""

    code = "database_conflict"
    title = "Opération en conflit avec une autre, veuillez réessayer"


class InternalError(ServiceError):
    status = 500
    code = "internal_error"
    title = "Erreur interne"


def problem_responses(*errors: type[ServiceError]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status with the problem codes it may carry."""
    by_status: dict[int, list[type[ServiceError]]] = {}
    documented: tuple[type[ServiceError], ...] = (*errors, Unprocessable)
    for error in documented:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {}},
            "description": _describe(kinds),
        }
        for status, kinds in sorted(by_status.items())
    }


def _describe(kinds: Iterable[type[ServiceError]]) -> str:
    return "; ".join(sorted({f"`{kind.code}`: {kind.title}" for kind in kinds}))
