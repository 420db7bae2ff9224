"""Operation ids ``tag:function`` and problem+json responses in the generated spec."""

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

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


def build_spec(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    _problems_as_problem_json(spec)
    return spec


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_spec(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def render(app: FastAPI) -> str:
    return json.dumps(build_spec(app), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
