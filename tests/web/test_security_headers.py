"""Pages are served with a strict CSP and safe cookies."""

from pathlib import Path

from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr

from tests.fixtures.databases import make_settings
from voucher_service.app import create_app


class TestSecurityHeaders:
    async def test_pages_forbid_inline_scripts_and_framing(self, client: AsyncClient) -> None:
        response = await client.get("/login")
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in response.headers

    async def test_csrf_cookie_is_httponly_and_strict(self, client: AsyncClient) -> None:
        cookie = (await client.get("/login")).headers["set-cookie"].lower()
        assert "mcd_csrf=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert "secure" not in cookie

    async def test_production_over_https(self, tmp_path: Path) -> None:
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp_path}/p.db",
            env="production",
            public_url="https://cheques.maregionsud.fr",
            secret_key=SecretStr("p" * 48),
            payout_debtor_iban="FR1420041010050500013M02606",
            payout_debtor_bic="PSSTFRPPMAR",
        )
        transport = ASGITransport(app=create_app(settings))
        async with AsyncClient(transport=transport, base_url="https://testserver") as client:
            response = await client.get("/login")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "secure" in response.headers["set-cookie"].lower()
