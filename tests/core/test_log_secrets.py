"""No secret in any log line: the journeys that carry tokens (the status page, the cheque's
QR, the invitation, bearer tokens, session cookies, query strings) run against a real
`serve` process whose output is read back whole."""

import json
import re
from pathlib import Path

import httpx

from experts import registry as expert_registry
from experts.schemas import ExpertCreate
from tests.fixtures import factories
from tests.fixtures.applications import application_body, committed_programme
from tests.fixtures.factories import PASSWORD
from tests.fixtures.servers import serve
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role
from voucher_service.core.db import Database

HTML = {"accept": "text/html"}


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def seed(database: Database) -> tuple[str, str, str]:
    """A committed administrator and expert (their e-mails), and an invitation token."""
    async with database.sessionmaker() as session, session.begin():
        admin = await factories.create_user(session, Role.admin)
        expert = await factories.create_expert(session)
        invited = ExpertCreate.model_validate(factories.expert_body(password=None))
        _, invitation = await expert_registry.register(session, invited, factories.FACTORY_SETTINGS)
    assert invitation is not None
    return admin.email, expert.email, invitation


async def page_login(client: httpx.AsyncClient, email: str) -> str:
    """Logs the client in through the login form; the session cookie."""
    csrf = csrf_of(await client.get("/login", headers=HTML))
    form = {"email": email, "password": PASSWORD, "csrf_token": csrf}
    answer = await client.post("/login", data=form, headers=HTML)
    assert answer.status_code == 303, answer.text
    return client.cookies[SESSION_COOKIE]


async def journeys(url: str, database: Database, programme_id: int | None) -> list[str]:
    """Apply, follow the status link, approve, open the QR, redeem, open the invitation;
    every secret these carried."""
    admin_email, expert_email, invitation = await seed(database)
    secrets = [invitation]
    async with httpx.AsyncClient(base_url=url, timeout=60) as public:
        applied = await public.post(
            "/api/v1/applications", json=application_body(programme_id=programme_id)
        )
        assert applied.status_code == 201, applied.text
        status_url = applied.json()["status_url"]
        secrets.append(status_url.rsplit("/", 1)[1])
        assert (await public.get(status_url, headers=HTML)).status_code == 200
        assert (await public.get(f"/invitation/{invitation}", headers=HTML)).status_code == 200
        assert (await public.get("/status/not-a-real-token-0123456789")).status_code == 404
        secrets.append("not-a-real-token-0123456789")
    async with httpx.AsyncClient(base_url=url, timeout=60) as admin:
        form = {"username": admin_email, "password": PASSWORD}
        bearer = (await admin.post("/api/v1/auth/token", data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {bearer}"}
        approved = await admin.post(
            f"/api/v1/applications/{applied.json()['id']}/approve", headers=headers
        )
        assert approved.status_code == 200, approved.text
        cheque = approved.json()["cheque"]
        for presented in (cheque["code"], cheque["token"]):
            found = await admin.get(f"/api/v1/vouchers/{presented}", headers=headers)
            assert found.status_code == 200, found.text
        secrets += [bearer, cheque["code"], cheque["token"]]
    async with httpx.AsyncClient(base_url=url, timeout=60) as expert:
        session_cookie = await page_login(expert, expert_email)
        shown = await expert.get(f"/r/{cheque['token']}", headers=HTML)
        assert "Atelier Calanques SARL" in shown.text
        typed = await expert.get("/r", params={"code": cheque["code"]}, headers=HTML)
        assert typed.status_code == 303
        query_secret = "query-secret-6f1d2c"
        await expert.get("/expert", params={"token": query_secret}, headers=HTML)
        secrets += [session_cookie, csrf_of(shown), query_secret]
    return secrets


async def test_no_token_cookie_header_or_query_reaches_the_logs(
    database: Database, tmp_path: Path
) -> None:
    output = tmp_path / "server.log"
    url = database.engine.url.render_as_string(hide_password=False)
    async with committed_programme(database) as programme, serve(url, output=output) as server:
        secrets = await journeys(server.url, database, programme.id)
    logs = output.read_text()
    for secret in secrets:
        assert secret not in logs, secret
    access = [json.loads(line) for line in logs.splitlines() if '"voucher_service.access"' in line]
    routes = {entry["route"] for entry in access}
    assert {"/status/{token}", "/r/{token}", "/invitation/{token}"} <= routes, routes
    assert all(re.fullmatch(r"[0-9a-f]{16}", entry["path_print"]) for entry in access)
