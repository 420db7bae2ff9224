"""/docs: Swagger UI from the vendored files, under the pages' strict CSP, and settings
that take the documentation off."""

import re
from pathlib import Path
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from playwright.async_api import ConsoleMessage, Page

from tests.core.test_errors import assert_problem
from tests.fixtures.databases import make_settings
from tests.fixtures.servers import LiveServer
from voucher_service.app import create_app


def operations(spec: dict[str, Any]) -> int:
    methods = {"get", "post", "put", "patch", "delete"}
    return sum(1 for path in spec["paths"].values() for method in path if method in methods)


@pytest.mark.browser
async def test_the_documentation_lists_every_operation_under_the_csp(
    live_server: LiveServer, page: Page
) -> None:
    refused: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error":
            refused.append(message.text)

    page.on("console", watch)
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(live_server.url) else outside.append(request.url)
        ),
    )
    response = await page.goto(f"{live_server.url}/docs")
    assert response is not None
    assert "script-src 'self';" in response.headers["content-security-policy"]
    operation = page.locator(".opblock")
    await operation.first.wait_for()
    spec = await (await page.request.get(f"{live_server.url}/openapi.json")).json()
    assert await operation.count() == operations(spec)
    export = page.locator(
        ".opblock-summary-path", has_text="/api/v1/payout-batches/{batch_id}/export"
    )
    assert await export.count() == 1
    assert refused == [] and outside == []


async def test_the_page_has_no_inline_script(client: AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.S)
    assert [attributes for attributes, body in scripts if "src=" not in attributes or body] == []
    for source in re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text):
        assert (await client.get(source)).status_code == 200, source
    assert (await client.get("/redoc")).status_code == 404


async def test_the_documentation_can_be_taken_off(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/docs.db", api_docs="off")
    transport = ASGITransport(app=create_app(settings))
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert_problem(await client.get("/docs"), 404, "not_found")
        assert_problem(await client.get("/openapi.json"), 404, "not_found")
        assert (await client.get("/healthz")).status_code == 200
