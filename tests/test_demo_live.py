"""`voucher-service demo` as a newcomer runs it, on a machine with no internet: it seeds
through the fictitious registry, its links point at itself, a cheque is issued (its PDF
rendered by the worker processes), and Ctrl-C stops it cleanly, leaving no traceback or
leaked-resource warning behind."""

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page

from tests.fixtures.cli import COMMAND
from tests.fixtures.servers import free_port, wait_ready
from tests.web.test_accessibility import violations
from voucher_service.applications.fictitious_registry import COMPANIES
from voucher_service.demo import DEMO_LOGINS

pytestmark = pytest.mark.browser


async def test_the_demo_runs_offline_and_stops_cleanly(tmp_path: Path, audited_page: Page) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCD_")}
    env["MCD_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    output = tmp_path / "demo.log"
    with output.open("wb") as sink:
        # Its own process group, like a terminal's foreground job that Ctrl-C reaches whole.
        process = await asyncio.create_subprocess_exec(
            *COMMAND,
            "demo",
            "--port",
            str(port),
            env=env,
            cwd=tmp_path,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
        try:
            await wait_ready(url, process)
            status_url = await _approve_a_waiting_application(url)
            await _the_login_page_lists_the_companies_to_try(audited_page, url)
        finally:
            os.killpg(process.pid, signal.SIGINT)
            code = await asyncio.wait_for(process.wait(), 30)
    log = output.read_text()
    assert status_url.startswith(f"{url}/status/")
    assert code == 0, log
    assert "Traceback" not in log and "leaked" not in log, log
    assert "99900001100018" in log  # the fictitious companies to try are printed


async def _the_login_page_lists_the_companies_to_try(page: Page, url: str) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await violations(page, f"{url}/login") == []
    note = page.get_by_role("complementary", name="Démonstration : entreprises fictives")
    for company in COMPANIES:
        assert company.siret in await note.inner_text()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


async def _approve_a_waiting_application(url: str) -> str:
    [admin] = [login for login in DEMO_LOGINS if login.role.value == "admin"]
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        token = await client.post(
            "/api/v1/auth/token", data={"username": admin.email, "password": admin.password}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        waiting = await client.get(
            "/api/v1/applications", params={"status": "eligible"}, headers=headers
        )
        [first, *_] = waiting.json()["items"]  # checked eligible by the fictitious registry
        approved = await client.post(f"/api/v1/applications/{first['id']}/approve", headers=headers)
        assert approved.status_code == 200, approved.text
        assert approved.json()["cheque"] is not None
        return str(approved.json()["status_url"])
