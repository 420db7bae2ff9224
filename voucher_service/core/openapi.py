"""Operation ids ``tag:function`` and problem+json responses in the generated spec."""

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from voucher_service.core.errors import PROBLEM_JSON

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}:{route.name}"


def _problems_as_problem_json(spec: dict[str, Any]) -> None:
    """Move each error response's schema from application/json to problem+json."""
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and PROBLEM_JSON in content:
                    schema = content.pop("application/json", {}).get("schema")
                    content[PROBLEM_JSON] = {
                        "schema": schema or {"$ref": "#/components/schemas/Problem"}
                    }


BODY_ERRORS = {
    "413": "`payload_too_large`: Contenu trop volumineux",
    "415": "`unsupported_media_type`: Type de contenu non pris en charge",
}


def _body_errors(spec: dict[str, Any]) -> None:
    """Every operation that takes a body may refuse it as too large or of the wrong type."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            if "requestBody" in operation:
                for status, description in BODY_ERRORS.items():
                    operation["responses"].setdefault(
                        status, {"description": description, "content": problem}
                    )


AUTH_ERRORS = {
    "401": "`not_authenticated`: Authentification requise",
    "403": "`forbidden`: Accès refusé",
}


def _guarded(dependant: Dependant) -> bool:
    return any(getattr(d.call, "roles", None) or _guarded(d) for d in dependant.dependencies)


def _auth_errors(app: FastAPI, spec: dict[str, Any]) -> None:
    """Every route behind a role rule may answer 401 and 403: say so in the spec."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not _guarded(route.dependant):
            continue
        operations = spec["paths"].get(context.path_format or "", {})
        for method in route.methods or ():
            responses = operations.get(method.lower(), {}).get("responses", {})
            for status, description in AUTH_ERRORS.items():
                responses.setdefault(status, {"description": description, "content": problem})


def build_spec(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    _problems_as_problem_json(spec)
    _body_errors(spec)
    _auth_errors(app, spec)
    return spec


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_spec(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def render(app: FastAPI) -> str:
    return json.dumps(build_spec(app), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
