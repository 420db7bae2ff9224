"""Every route × every caller (anonymous, admin, accountant, expert): admitted or refused
as the policy below says.

The policy is written down here, from CONTRACT.md, and never read from the routes: a route
whose rule is loosened or tightened fails, and so does a route of the app without a row
(or a row without a route).
"""

from collections.abc import Awaitable, Callable

import pytest
from fastapi.routing import iter_route_contexts
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Mount

from tests.fixtures.factories import bearer, session_cookie, user_of
from voucher_service.app import create_app
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.dependencies import SESSION_COOKIE
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.web.rendering import CSRF_COOKIE, CSRF_FIELD, _sign

Caller = Role | None  # None: anonymous
ANONYMOUS: Caller = None
CALLERS: tuple[Caller, ...] = (ANONYMOUS, *Role)

ADMIN = frozenset({Role.admin})
ACCOUNTS = frozenset({Role.accountant, Role.admin})
EXPERT = frozenset({Role.expert})
SIGNED_IN = frozenset(Role)
EVERYONE = frozenset(CALLERS)

# (method, path) -> who is admitted. Anything else is refused: 401 for an anonymous API
# call, a redirect to the login page for an anonymous page, 403 for a signed-in caller.
POLICY: dict[tuple[str, str], frozenset[Caller]] = {
    # API
    ("POST", "/api/v1/auth/token"): EVERYONE,
    ("POST", "/api/v1/auth/password-reset"): EVERYONE,
    ("POST", "/api/v1/auth/password-reset/confirm"): EVERYONE,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users/{user_id}/role"): ADMIN,
    ("POST", "/api/v1/users/{user_id}/deactivate"): ADMIN,
    ("POST", "/api/v1/users/{user_id}/activate"): ADMIN,
    ("POST", "/api/v1/users/{user_id}/password-reset"): ADMIN,
    ("POST", "/api/v1/programmes"): ADMIN,
    ("GET", "/api/v1/programmes"): ADMIN,
    ("GET", "/api/v1/programmes/{programme_id}"): ADMIN,
    ("PATCH", "/api/v1/programmes/{programme_id}"): ADMIN,
    ("POST", "/api/v1/programmes/{programme_id}/close"): ADMIN,
    ("POST", "/api/v1/experts"): ADMIN,
    ("GET", "/api/v1/experts"): ADMIN,
    ("GET", "/api/v1/experts/me"): EXPERT,
    ("POST", "/api/v1/experts/me/bank-details"): EXPERT,
    ("GET", "/api/v1/experts/{expert_id}"): ADMIN,
    ("POST", "/api/v1/experts/{expert_id}/bank-details/confirm"): ADMIN,
    ("POST", "/api/v1/experts/{expert_id}/bank-details/refuse"): ADMIN,
    ("POST", "/api/v1/experts/{expert_id}/resend-invitation"): ADMIN,
    ("POST", "/api/v1/experts/{expert_id}/accredit"): ADMIN,
    ("POST", "/api/v1/experts/{expert_id}/suspend"): ADMIN,
    ("POST", "/api/v1/experts/{expert_id}/revoke"): ADMIN,
    ("POST", "/api/v1/redemptions/check"): EXPERT,
    ("POST", "/api/v1/redemptions"): EXPERT,
    ("GET", "/api/v1/redemptions"): EXPERT,
    ("POST", "/api/v1/redemptions/{redemption_id}/cancel"): EXPERT,
    ("POST", "/api/v1/applications"): EVERYONE,
    ("POST", "/api/v1/applications/status-link"): EVERYONE,
    ("GET", "/api/v1/applications"): ADMIN,
    ("POST", "/api/v1/applications/approve"): ADMIN,
    ("GET", "/api/v1/applications/{application_id}"): ADMIN,
    ("POST", "/api/v1/applications/{application_id}/approve"): ADMIN,
    ("POST", "/api/v1/applications/{application_id}/reject"): ADMIN,
    ("POST", "/api/v1/applications/{application_id}/recheck"): ADMIN,
    ("POST", "/api/v1/applications/{application_id}/resend-cheque"): ADMIN,
    ("POST", "/api/v1/applications/{application_id}/notes"): ADMIN,
    ("POST", "/api/v1/applications/{application_id}/correction-request"): ADMIN,
    ("POST", "/api/v1/status/{token}/correction"): EVERYONE,
    ("GET", "/api/v1/vouchers"): ACCOUNTS,
    ("GET", "/api/v1/vouchers/{code}"): ACCOUNTS,
    ("POST", "/api/v1/vouchers/{code}/cancel"): ADMIN,
    ("GET", "/api/v1/vouchers/{code}/pdf"): ADMIN,
    ("GET", "/api/v1/audit/checkpoints"): ADMIN,
    ("GET", "/api/v1/notifications"): ADMIN,
    ("POST", "/api/v1/notifications/{notification_id}/requeue"): ADMIN,
    ("POST", "/api/v1/payout-batches"): ACCOUNTS,
    ("GET", "/api/v1/payout-batches"): ACCOUNTS,
    ("GET", "/api/v1/payout-batches/{batch_id}"): ACCOUNTS,
    ("POST", "/api/v1/payout-batches/{batch_id}/cancel"): ACCOUNTS,
    ("POST", "/api/v1/payout-batches/{batch_id}/approve"): ACCOUNTS,
    ("POST", "/api/v1/payout-batches/{batch_id}/export"): ACCOUNTS,
    ("GET", "/api/v1/payout-batches/{batch_id}/sepa.xml"): ACCOUNTS,
    ("POST", "/api/v1/bank-statements"): ACCOUNTS,
    ("GET", "/api/v1/exports/reconciliation.csv"): ACCOUNTS,
    ("GET", "/api/v1/exports/fec.txt"): ACCOUNTS,
    # Operations and documentation
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("GET", "/.well-known/jwks.json"): EVERYONE,
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/readyz"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,
    ("GET", "/static/{path}"): EVERYONE,
    # Pages
    ("GET", "/"): EVERYONE,
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/login/2fa"): EVERYONE,
    ("POST", "/login/2fa"): EVERYONE,
    ("GET", "/account/2fa"): SIGNED_IN,
    ("POST", "/account/2fa"): SIGNED_IN,
    ("POST", "/account/2fa/recovery-codes"): SIGNED_IN,
    ("POST", "/account/2fa/disable"): SIGNED_IN,
    ("GET", "/apply"): EVERYONE,
    ("POST", "/apply"): EVERYONE,
    ("GET", "/status/{token}"): EVERYONE,
    ("GET", "/status/{token}/cheque.pdf"): EVERYONE,
    ("POST", "/status/{token}/correction"): EVERYONE,
    ("GET", "/status-link"): EVERYONE,
    ("POST", "/status-link"): EVERYONE,
    ("GET", "/invitation/{token}"): EVERYONE,
    ("POST", "/invitation/{token}"): EVERYONE,
    ("GET", "/password-reset"): EVERYONE,
    ("POST", "/password-reset"): EVERYONE,
    ("GET", "/password-reset/{token}"): EVERYONE,
    ("POST", "/password-reset/{token}"): EVERYONE,
    ("GET", "/accounting"): ACCOUNTS,
    ("POST", "/accounting/batches"): ACCOUNTS,
    ("GET", "/accounting/batches/{batch_id}"): ACCOUNTS,
    ("POST", "/accounting/batches/{batch_id}/{step}"): ACCOUNTS,
    ("GET", "/accounting/batches/{batch_id}/sepa.xml"): ACCOUNTS,
    ("POST", "/accounting/statements"): ACCOUNTS,
    ("GET", "/accounting/statements/{import_id}"): ACCOUNTS,
    ("GET", "/accounting/exports/reconciliation.csv"): ACCOUNTS,
    ("GET", "/accounting/exports/fec.txt"): ACCOUNTS,
    ("GET", "/admin"): ADMIN,
    # Accountants read cheques (to answer a business or an expert about a payment); only
    # administrators download, resend or cancel one, as on the API.
    ("GET", "/admin/cheques"): ACCOUNTS,
    ("GET", "/admin/cheques/{code}"): ACCOUNTS,
    ("GET", "/admin/cheques/{code}/cheque.pdf"): ADMIN,
    ("POST", "/admin/cheques/{code}/resend"): ADMIN,
    ("GET", "/admin/cheques/{code}/cancel"): ADMIN,
    ("POST", "/admin/cheques/{code}/cancel"): ADMIN,
    ("POST", "/admin/applications/approve"): ADMIN,
    ("GET", "/admin/applications/{application_id}"): ADMIN,
    ("POST", "/admin/applications/{application_id}/approve"): ADMIN,
    ("POST", "/admin/applications/{application_id}/reject"): ADMIN,
    ("POST", "/admin/applications/{application_id}/recheck"): ADMIN,
    ("POST", "/admin/applications/{application_id}/notes"): ADMIN,
    ("POST", "/admin/applications/{application_id}/correction-request"): ADMIN,
    ("GET", "/admin/notifications"): ADMIN,
    ("GET", "/admin/notifications/{notification_id}"): ADMIN,
    ("GET", "/admin/notifications/{notification_id}/html"): ADMIN,
    ("GET", "/admin/notifications/{notification_id}/attachments/{attachment_id}"): ADMIN,
    ("POST", "/admin/notifications/{notification_id}/requeue"): ADMIN,
    ("GET", "/admin/programmes"): ADMIN,
    ("POST", "/admin/programmes"): ADMIN,
    ("GET", "/admin/programmes/new"): ADMIN,
    ("GET", "/admin/programmes/{programme_id}"): ADMIN,
    ("POST", "/admin/programmes/{programme_id}"): ADMIN,
    ("POST", "/admin/programmes/{programme_id}/budget"): ADMIN,
    ("POST", "/admin/programmes/{programme_id}/close"): ADMIN,
    ("GET", "/admin/users"): ADMIN,
    ("POST", "/admin/users"): ADMIN,
    ("GET", "/admin/users/{user_id}"): ADMIN,
    ("POST", "/admin/users/{user_id}/role"): ADMIN,
    ("POST", "/admin/users/{user_id}/active"): ADMIN,
    ("POST", "/admin/users/{user_id}/password-reset"): ADMIN,
    ("GET", "/admin/experts"): ADMIN,
    ("POST", "/admin/experts"): ADMIN,
    ("GET", "/admin/experts/new"): ADMIN,
    ("GET", "/admin/experts/{expert_id}"): ADMIN,
    ("POST", "/admin/experts/{expert_id}/accredit"): ADMIN,
    ("POST", "/admin/experts/{expert_id}/suspend"): ADMIN,
    ("POST", "/admin/experts/{expert_id}/revoke"): ADMIN,
    ("POST", "/admin/experts/{expert_id}/bank-details/confirm"): ADMIN,
    ("POST", "/admin/experts/{expert_id}/bank-details/refuse"): ADMIN,
    ("POST", "/admin/experts/{expert_id}/invitation"): ADMIN,
    ("GET", "/r"): EXPERT,
    ("GET", "/r/{token}"): EXPERT,
    ("POST", "/r/{token}"): EXPERT,
    ("GET", "/expert"): EXPERT,
    ("GET", "/expert/redemptions/{redemption_id}"): EXPERT,
    ("POST", "/expert/redemptions/{redemption_id}/cancel"): EXPERT,
}

# Values for the path parameters: nothing they name exists, which is enough to see
# whether the caller got past the door.
PATH_VALUES = {
    "programme_id": "999999",
    "expert_id": "999999",
    "redemption_id": "999999",
    "application_id": "999999",
    "notification_id": "999999",
    "attachment_id": "999999",
    "user_id": "999999",
    "batch_id": "999999",
    "step": "export",
    "import_id": "999999",
    "code": "MCD-ZZZZ-ZZZZ-Z",
    "token": "MCD-ZZZZ-ZZZZ-Z",
    "path": "no-such-file.css",
}


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD aside (it follows GET)."""
    app = create_app(Settings(_env_file=None))
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path_format or ""
        if isinstance(route, Mount):
            found.add(("GET", path))
            continue
        found.update((method, path) for method in getattr(route, "methods", None) or ())
    return {(method, path) for method, path in found if method != "HEAD"}


def test_every_route_has_a_row_and_every_row_a_route() -> None:
    routes = app_routes()
    assert sorted(routes - POLICY.keys()) == [], "routes without a row in POLICY"
    assert sorted(POLICY.keys() - routes) == [], "rows of POLICY without a route"


def is_page(path: str) -> bool:
    return not path.startswith("/api/")


Send = Callable[[Caller], Awaitable[Response]]
RequestAs = Callable[[str, str, bool], Send]


@pytest.fixture
def request_as(client: AsyncClient, session: AsyncSession, settings: Settings) -> RequestAs:
    """`request_as(method, url, page)(caller)`: the request as that caller would send it,
    with a bearer token for the API, a session cookie and a valid CSRF token for pages."""
    users: dict[Role, int] = {}
    nonce = "authorization-test-nonce"

    async def user_id(role: Role) -> int:
        if role not in users:
            email = f"{role.value}@authorization.test"
            user = await auth_service.create_user(session, email, role, None)
            assert user.id is not None
            users[role] = user.id
        return users[role]

    def make(method: str, url: str, page: bool) -> Send:
        async def send(caller: Caller) -> Response:
            client.cookies.clear()
            headers: dict[str, str] = {}
            if page:
                headers["accept"] = "text/html"
                client.cookies.set(CSRF_COOKIE, nonce)
            if caller is not None:
                user = await user_of(session, await user_id(caller))
                if page:
                    client.cookies.set(SESSION_COOKIE, session_cookie(settings, user))
                else:
                    headers.update(bearer(settings, user))
            if method == "GET":
                return await client.get(url, headers=headers)
            if page:
                form = {CSRF_FIELD: _sign(settings, nonce)}
                return await client.request(method, url, data=form, headers=headers)
            return await client.request(method, url, json={}, headers=headers)

        return send

    return make


def refusal(response: Response, caller: Caller, page: bool) -> str | None:
    """Why the door refused the caller, or None when it was let through."""
    if page and caller is None:
        location = response.headers.get("location", "")
        if response.status_code == 303 and location.startswith("/login"):
            return "login_required"
        return None
    if page:
        forbidden = response.status_code == 403 and "<code>forbidden</code>" in response.text
        return "forbidden" if forbidden else None
    body = response.json() if "json" in response.headers.get("content-type", "") else None
    code = body.get("code") if isinstance(body, dict) else None
    if (response.status_code, code) in ((401, "not_authenticated"), (403, "forbidden")):
        return str(code)
    return None


ROWS = sorted(POLICY.items())


@pytest.mark.parametrize(("route", "admitted"), ROWS, ids=[f"{m} {p}" for (m, p), _ in ROWS])
async def test_route_admits_exactly_its_callers(
    request_as: RequestAs,
    route: tuple[str, str],
    admitted: frozenset[Caller],
) -> None:
    method, path = route
    send = request_as(method, path.format(**PATH_VALUES), is_page(path))
    seen: dict[str, str | None] = {}
    for caller in CALLERS:
        response = await send(caller)
        seen[str(caller)] = refusal(response, caller, is_page(path))
    expected = {
        str(caller): None
        if caller in admitted
        else ("login_required" if is_page(path) else "not_authenticated")
        if caller is None
        else "forbidden"
        for caller in CALLERS
    }
    assert seen == expected
