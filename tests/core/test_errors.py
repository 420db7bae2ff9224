"""Every error path answers in RFC 9457 problem+json with a stable code."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient, Response

from tests.fixtures.factories import HeadersFor
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.errors import ServiceError

PROBLEM = "application/problem+json"


def assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"]
    assert "Traceback" not in response.text
    return body


class TestProblemFormat:
    async def test_unknown_route(self, client: AsyncClient) -> None:
        assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")

    async def test_wrong_method(self, client: AsyncClient) -> None:
        assert_problem(await client.delete("/api/v1/auth/token"), 405, "method_not_allowed")

    async def test_malformed_json(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        headers = await headers_for(Role.admin)
        response = await client.post(
            "/api/v1/users",
            content=b'{"email": ',
            headers={**headers, "content-type": "application/json"},
        )
        body = assert_problem(response, 422, "validation_error")
        assert "JSON" in body["detail"]

    async def test_wrong_content_type(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        headers = await headers_for(Role.admin)
        response = await client.post(
            "/api/v1/users",
            content=b"email=a@b.fr",
            headers={**headers, "content-type": "text/plain"},
        )
        assert_problem(response, 415, "unsupported_media_type")

    async def test_field_errors_name_the_field(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        headers = await headers_for(Role.admin)
        response = await client.post(
            "/api/v1/users",
            json={"email": "not-an-email", "role": "admin", "password": "long enough password"},
            headers=headers,
        )
        body = assert_problem(response, 422, "validation_error")
        assert ["body", "email"] in [error["loc"] for error in body["errors"]]

    async def test_oversized_body(self, client: AsyncClient, settings: Settings) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            content=b"x" * (settings.max_body_bytes + 1),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert_problem(response, 413, "payload_too_large")

    async def test_oversized_chunked_body(
        self, client: AsyncClient, settings: Settings, headers_for: HeadersFor
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(settings.max_body_bytes // 65536 + 2):
                yield b"x" * 65536

        headers = {**await headers_for(Role.admin), "content-type": "application/json"}
        response = await client.post("/api/v1/users", content=chunks(), headers=headers)
        assert_problem(response, 413, "payload_too_large")

    async def test_browsers_get_a_french_page(self, client: AsyncClient) -> None:
        response = await client.get("/nulle-part", headers={"accept": "text/html"})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert 'lang="fr"' in response.text
        assert "Ressource introuvable" in response.text

    async def test_every_response_carries_a_request_id(self, client: AsyncClient) -> None:
        response = await client.get("/healthz", headers={"x-request-id": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"


class TestEdgeInput:
    async def test_405_lists_every_allowed_method(self, client: AsyncClient) -> None:
        response = await client.request("PUT", "/api/v1/programmes")
        assert_problem(response, 405, "method_not_allowed")
        assert response.headers["allow"] == "GET, POST"

    async def test_an_id_out_of_range_is_422_not_500(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        response = await client.get(
            "/api/v1/programmes/99999999999999999999999", headers=await headers_for(Role.admin)
        )
        assert_problem(response, 422, "validation_error")

    async def test_json_of_the_wrong_shape_is_422(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        response = await client.post(
            "/api/v1/users", json=[None, None], headers=await headers_for(Role.admin)
        )
        assert_problem(response, 422, "validation_error")


async def test_a_query_id_out_of_range_is_422(client: AsyncClient, headers_for: HeadersFor) -> None:
    response = await client.get(
        "/api/v1/vouchers", params={"programme_id": 10**22}, headers=await headers_for(Role.admin)
    )
    assert_problem(response, 422, "validation_error")


class TestNulCharacters:
    async def test_a_nul_in_json_is_refused_before_parsing(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        response = await client.post(
            "/api/v1/users", json={"email": "a\x00@b.fr"}, headers=await headers_for(Role.admin)
        )
        assert_problem(response, 422, "invalid_character")

    async def test_a_nul_in_the_query_is_refused(self, client: AsyncClient) -> None:
        assert_problem(await client.get("/api/v1/vouchers?status=%00"), 422, "invalid_character")


def test_extensions_never_replace_the_problem_members() -> None:
    assert ServiceError("Trop tard.", retry_after=60).to_problem()["retry_after"] == 60
    for member in ("status", "code", "type", "title", "detail", "instance"):
        with pytest.raises(TypeError, match=member):
            ServiceError("Trop tard.", **{member: "x"})
