"""`voucher_service.core` is the ground floor: no module of it imports a domain, a screen
or the app (ARCHITECTURE.md, "The house")."""

import ast
from pathlib import Path

import notifications
import voucher_service.core
from tests.fixtures.imports import imported_modules

CORE = Path(voucher_service.core.__file__).parent
ABOVE_CORE = (
    "experts",
    "notifications",
    "voucher_service.app",
    "voucher_service.applications",
    "voucher_service.cli",
    "voucher_service.payouts",
    "voucher_service.programmes",
    "voucher_service.vouchers",
    "voucher_service.web",
)


def above_core(name: str) -> bool:
    return any(name == top or name.startswith(f"{top}.") for top in ABOVE_CORE)


def test_core_imports_no_domain_screen_or_app() -> None:
    offenders = {
        f"{path.relative_to(CORE.parent.parent)} imports {name}"
        for path in CORE.rglob("*.py")
        for name in imported_modules(path)
        if above_core(name)
    }
    assert not offenders, sorted(offenders)


def test_the_check_sees_an_import_from_above() -> None:
    assert above_core("notifications.service")
    assert above_core("voucher_service.web.rendering")
    assert not above_core("voucher_service.core.db")
    assert not above_core("notificationsx")


# Every package but experts: the service and its domains, and the notifications.
OUTSIDE_EXPERTS = (CORE.parent, Path(notifications.__file__).parent)
# The experts' tables: only the experts domain writes them (ARCHITECTURE.md, "A domain
# changes another domain's rows only by calling it").
EXPERTS_TABLES = {
    "AccreditationChange",
    "Expert",
    "Invitation",
    "Redemption",
    "RedemptionAttempt",
}
WRITES = {"update", "insert", "delete"}


def written_tables(source: str) -> set[str]:
    """The tables a module names in update(...), insert(...) or delete(...)."""
    written: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        table = node.args[0]
        if name in WRITES and isinstance(table, ast.Name):
            written.add(table.id)
    return written


def test_only_experts_write_experts_tables() -> None:
    offenders = {
        f"{path.relative_to(package.parent)} writes {table}"
        for package in OUTSIDE_EXPERTS
        for path in package.rglob("*.py")
        if "migrations" not in path.parts
        for table in written_tables(path.read_text()) & EXPERTS_TABLES
    }
    assert not offenders, sorted(offenders)


def test_the_check_sees_a_write_to_a_redemption() -> None:
    assert written_tables("update(Redemption).values(payout_state=x)") == {"Redemption"}
    assert written_tables("dialect.insert(Expert)") == {"Expert"}
    assert not written_tables("select(Redemption)") & EXPERTS_TABLES
