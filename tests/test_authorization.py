"""Every API route × every role: allowed or denied as its rule says.

The rules are read from the route table (the roles each route's dependency admits), so a
new route is covered at once; a route with no rule must be listed in PUBLIC, or this fails.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import AsyncClient

from tests.fixtures.factories import HeadersFor
from voucher_service.app import create_app
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings

PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/applications"),
}
DENIED = {"not_authenticated", "forbidden"}


def _roles(dependant: Dependant) -> tuple[Role, ...] | None:
    for dependency in dependant.dependencies:
        roles = getattr(dependency.call, "roles", None) or _roles(dependency)
        if roles:
            return tuple(roles)
    return None


def api_routes() -> Iterator[tuple[str, str, tuple[Role, ...] | None, APIRoute]]:
    app = create_app(Settings(_env_file=None))
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path_format or ""
        if isinstance(route, APIRoute) and path.startswith("/api/"):
            for method in sorted(route.methods or ()):
                yield method, path, _roles(route.dependant), route


ROUTES = list(api_routes())


def concrete_path(path: str, route: APIRoute) -> str:
    values: dict[str, Any] = {}
    for param in route.dependant.path_params:
        values[param.name] = 999999 if param.field_info.annotation is int else "MCD-ZZZZ-ZZZZ-Z"
    return path.format(**values)


def test_every_route_has_a_rule() -> None:
    unruled = [(m, p) for m, p, roles, _ in ROUTES if roles is None and (m, p) not in PUBLIC]
    assert unruled == [], f"routes without a role rule (add one, or list them in PUBLIC): {unruled}"


@pytest.mark.parametrize(
    ("method", "path", "roles", "route"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
async def test_route_allows_and_denies_by_role(
    client: AsyncClient,
    headers_for: HeadersFor,
    method: str,
    path: str,
    roles: tuple[Role, ...] | None,
    route: APIRoute,
) -> None:
    url = concrete_path(path, route)
    anonymous = await client.request(method, url, json={})
    if roles is None:
        assert anonymous.status_code not in (401, 403), anonymous.text
        return
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    for role in Role:
        response = await client.request(method, url, json={}, headers=await headers_for(role))
        body = response.json() if response.content else None
        code = body.get("code") if isinstance(body, dict) else None
        if role in roles:
            assert code not in DENIED, (role, response.text)
        else:
            assert response.status_code == 403 and code == "forbidden", (role, response.text)
