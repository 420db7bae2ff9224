"""`voucher_service.core` is the ground floor: no module of it imports a domain, a screen
or the app (ARCHITECTURE.md, "The house")."""

import ast
from pathlib import Path

import voucher_service.core

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


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


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
