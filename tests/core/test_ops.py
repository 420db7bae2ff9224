"""Liveness, readiness and metrics, as an operator and Prometheus see them."""

from pathlib import Path
from typing import Any

from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr

from tests.core.test_errors import assert_problem
from tests.fixtures.databases import make_settings
from voucher_service.app import create_app
from voucher_service.core.db import Database


async def client_on(url: str, **settings: Any) -> AsyncClient:
    app = create_app(make_settings(url, **settings))
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver")


TOKEN = "m" * 40
PRODUCTION = {
    "env": "production",
    "secret_key": SecretStr("p" * 48),
    "payout_debtor_iban": "FR1420041010050500013M02606",
    "payout_debtor_bic": "PSSTFRPPMAR",
}


class TestReadiness:
    async def test_ready_on_a_migrated_database(self, database: Database) -> None:
        url = database.engine.url.render_as_string(hide_password=False)
        async with await client_on(url) as client:
            response = await client.get("/readyz")
        assert response.status_code == 200 and response.json() == {"status": "ready"}

    async def test_not_ready_on_an_unmigrated_database(self, empty_database_url: str) -> None:
        async with await client_on(empty_database_url) as client:
            assert_problem(await client.get("/readyz"), 503, "schema_not_migrated")

    async def test_not_ready_when_the_database_is_unreachable(self) -> None:
        url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        async with await client_on(url) as client:
            assert_problem(await client.get("/readyz"), 503, "database_unavailable")


class TestMetrics:
    async def test_counts_requests_by_route(self, client: AsyncClient) -> None:
        await client.get("/healthz")
        await client.get("/api/v1/auth/me")
        text = (await client.get("/metrics")).text
        assert 'mcd_http_requests_total{method="GET",route="/healthz",status="200"}' in text
        assert 'route="/api/v1/auth/me",status="401"' in text
        assert "mcd_http_request_duration_seconds_bucket" in text

    async def test_a_token_admits_only_who_presents_it(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path}/metrics.db"
        async with await client_on(url, metrics_token=TOKEN) as client:
            assert_problem(await client.get("/metrics"), 401, "not_authenticated")
            wrong = {"authorization": f"Bearer {TOKEN[:-1]}x"}
            assert_problem(await client.get("/metrics", headers=wrong), 401, "not_authenticated")
            basic = {"authorization": f"Basic {TOKEN}"}
            assert_problem(await client.get("/metrics", headers=basic), 401, "not_authenticated")
            right = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200 and "mcd_http_requests_total" in right.text

    async def test_production_without_a_token_publishes_nothing(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path}/metrics.db"
        async with await client_on(url, **PRODUCTION) as client:
            assert_problem(await client.get("/metrics"), 404, "metrics_not_published")
        async with await client_on(url, **PRODUCTION, metrics_token=TOKEN) as client:
            scraped = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
            assert scraped.status_code == 200
            assert_problem(await client.get("/metrics"), 401, "not_authenticated")

    async def test_liveness(self, client: AsyncClient) -> None:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
