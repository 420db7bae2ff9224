"""The PDF a business receives: a phone reads its QR, and the token in it verifies against
the published keys with an independent Ed25519 implementation."""

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.core.test_errors import assert_problem
from tests.fixtures.factories import HeadersFor
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.programmes import service as programme_service
from voucher_service.vouchers import codes, pdf_workers, service

A4_POINTS = "595.276 x 841.89 pts (A4)"


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def read_qr_codes(pdf: bytes, folder: Path) -> list[str]:
    """Rasterise at 150 dpi, as a printed page seen by a camera, and decode every QR."""
    (folder / "cheque.pdf").write_bytes(pdf)
    run("pdftoppm", "-r", "150", "-png", str(folder / "cheque.pdf"), str(folder / "page"))
    (page,) = folder.glob("page*.png")
    return run("zbarimg", "--raw", "-q", str(page)).split()


def b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verified_claims(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The JWS checked with cryptography's Ed25519 and the published JWK, nothing of ours."""
    header_segment, payload_segment, signature_segment = token.split(".")
    header = json.loads(b64url(header_segment))
    assert header["alg"] == "EdDSA"
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    public_key = Ed25519PublicKey.from_public_bytes(b64url(jwk["x"]))
    public_key.verify(b64url(signature_segment), f"{header_segment}.{payload_segment}".encode())
    return dict(json.loads(b64url(payload_segment)))


class TestPdf:
    async def test_the_qr_scans_and_its_token_verifies_against_the_jwks(
        self, session: AsyncSession, settings: Settings, client: AsyncClient, tmp_path: Path
    ) -> None:
        issued = await create_voucher(session, settings)
        programme = await programme_service.get(session, issued.voucher.programme_id)
        pdf = await service.render_pdf(issued.voucher, programme, settings)

        (url,) = read_qr_codes(pdf, tmp_path)
        assert url == f"{settings.public_url}/r/{issued.token}"
        jwks = (await client.get("/.well-known/jwks.json")).json()
        claims = verified_claims(url.rsplit("/r/", 1)[1], jwks)
        assert claims["sub"] == str(issued.voucher.id)
        assert claims["amt"] == issued.voucher.amount_cents

    async def test_an_a4_page_in_french_with_what_the_owner_needs(
        self, session: AsyncSession, settings: Settings, tmp_path: Path
    ) -> None:
        issued = await create_voucher(session, settings)
        programme = await programme_service.get(session, issued.voucher.programme_id)
        (tmp_path / "cheque.pdf").write_bytes(
            await service.render_pdf(issued.voucher, programme, settings)
        )
        info = run("pdfinfo", str(tmp_path / "cheque.pdf"))
        assert "Pages:           1" in info and A4_POINTS in info
        # split() also splits at the (narrow) no-break spaces of French amounts
        text = " ".join(run("pdftotext", str(tmp_path / "cheque.pdf"), "-").split())
        valid_until = issued.voucher.valid_until.strftime("%d/%m/%Y")
        for expected in (
            programme.name,
            "Atelier Calanques SARL",
            "SIRET 732 829 320 00074",
            "2 000,00 €",
            issued.code,
            f"au {valid_until} inclus",
            "Présentez ce chèque à un expert accrédité",
            "Conditions d'utilisation",
            programme.contact_email,
            "en une ou plusieurs fois, dans la limite de son montant",
            f"Le solde non utilisé au {valid_until} inclus est perdu et revient au programme",
        ):
            assert expected in text, expected
        assert "qu'une fois" not in text  # partial redemptions are accepted


class TestPdfEndpoint:
    async def test_admin_downloads_the_pdf(
        self,
        session: AsyncSession,
        settings: Settings,
        client: AsyncClient,
        headers_for: HeadersFor,
    ) -> None:
        issued = await create_voucher(session, settings)
        response = await client.get(
            f"/api/v1/vouchers/{issued.code.lower()}/pdf", headers=await headers_for(Role.admin)
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert issued.code in response.headers["content-disposition"]
        assert response.content.startswith(b"%PDF-")

    async def test_unknown_cheque(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        response = await client.get(
            f"/api/v1/vouchers/{codes.new_code()}/pdf", headers=await headers_for(Role.admin)
        )
        assert_problem(response, 404, "voucher_not_found")


class TestWorkerProcesses:
    async def test_renders_run_side_by_side_in_other_processes(
        self, session: AsyncSession, settings: Settings, tmp_path: Path
    ) -> None:
        issued = await create_voucher(session, settings)
        programme = await programme_service.get(session, issued.voucher.programme_id)
        pdfs = await asyncio.gather(
            *(service.render_pdf(issued.voucher, programme, settings) for _ in range(4))
        )
        assert len({len(pdf) for pdf in pdfs}) == 1
        assert read_qr_codes(pdfs[-1], tmp_path) == [f"{settings.public_url}/r/{issued.token}"]
        assert pdf_workers._pool is not None
        workers = set(pdf_workers._pool._processes)
        assert len(workers) == settings.pdf_workers == 2 and os.getpid() not in workers

    async def test_a_worker_that_died_is_replaced(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        programme = await programme_service.get(session, issued.voucher.programme_id)
        await service.render_pdf(issued.voucher, programme, settings)
        assert pdf_workers._pool is not None
        for pid in list(pdf_workers._pool._processes):
            os.kill(pid, signal.SIGKILL)
        pdf = await service.render_pdf(issued.voucher, programme, settings)
        assert pdf.startswith(b"%PDF-")

    def test_workers_leave_with_a_killed_server(self, tmp_path: Path) -> None:
        """A server killed outright runs no clean-up: its workers must not outlive it."""
        script = tmp_path / "server.py"
        script.write_text(RENDER_THEN_WAIT)
        project = str(Path(__file__).parents[2])
        server = subprocess.Popen(
            [sys.executable, str(script)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": project},
        )
        assert server.stdout is not None
        workers = [int(pid) for pid in server.stdout.readline().split()]
        assert workers and all(alive(pid) for pid in workers)
        server.kill()
        server.wait()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)]


RENDER_THEN_WAIT = """
import asyncio, time
from tests.fixtures.databases import make_settings
from voucher_service.vouchers import pdf, pdf_workers

async def main():
    settings = make_settings("sqlite+aiosqlite://")
    pool = pdf_workers._executor(settings)
    await asyncio.get_running_loop().run_in_executor(pool, pdf.write_pdf, "<p>Chèque</p>")
    print(*pool._processes, flush=True)
    time.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
