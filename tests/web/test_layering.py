"""Screens call services only (ARCHITECTURE.md, "Screens"): a page parses the form, calls a
use case of a domain and renders its answer. It runs no SQL, opens no savepoint, commits
nothing and imports no endpoint or repository module, so that the API and the page cannot
drift apart: whatever a page does, the API does through the same function."""

from pathlib import Path

import pytest

import voucher_service.web
from tests.fixtures.imports import imported_modules, methods_called_on

WEB = Path(voucher_service.web.__file__).parent
PAGES = sorted(WEB.glob("*.py"))
# The session is handed to services; only its type may be imported.
SESSION_TYPE = "sqlalchemy.ext.asyncio"
SESSION_WORK = {
    "add",
    "begin",
    "begin_nested",
    "commit",
    "delete",
    "exec",
    "execute",
    "flush",
    "get",
    "refresh",
    "rollback",
    "scalar",
    "scalars",
}


def forbidden_import(name: str) -> bool:
    parts = name.split(".")
    if name == SESSION_TYPE or name.startswith(f"{SESSION_TYPE}."):
        return False
    return (
        parts[0] in {"sqlalchemy", "sqlmodel"}
        or any(part in {"endpoints", "repository"} for part in parts)
        or any(part.endswith("_endpoints") for part in parts)
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_a_page_imports_no_endpoint_repository_or_sql(page: Path) -> None:
    offenders = sorted(name for name in imported_modules(page) if forbidden_import(name))
    assert not offenders, offenders


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_a_page_does_no_work_on_the_session(page: Path) -> None:
    assert not methods_called_on(page.read_text(), "session") & SESSION_WORK


def test_the_checks_see_what_they_forbid() -> None:
    assert forbidden_import("voucher_service.applications.endpoints.Registry")
    assert forbidden_import("voucher_service.applications.repository")
    assert forbidden_import("experts.redemption_endpoints")
    assert forbidden_import("sqlalchemy.select")
    assert forbidden_import("sqlmodel")
    assert not forbidden_import("sqlalchemy.ext.asyncio.AsyncSession")
    assert not forbidden_import("voucher_service.applications.dependencies.Registry")
    assert not forbidden_import("experts.redemption")
    source = "async def page(session):\n    async with session.begin_nested():\n        pass\n"
    assert methods_called_on(source, "session") == {"begin_nested"}
    assert methods_called_on("await session.execute(select(X))", "session") == {"execute"}
    assert methods_called_on("await service.execute(session)", "session") == set()


def test_every_page_module_is_checked() -> None:
    assert {"applications.py", "accounting.py", "expert_pages.py"} <= {p.name for p in PAGES}
