"""What an operator can type that the CLI cannot use: a message and an exit code, never a
Python traceback."""

from pathlib import Path

from tests.fixtures.cli import Result, run_cli
from tests.fixtures.databases import TEST_SECRET


def untraced(result: Result, code: int, message: str) -> None:
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


async def test_a_database_not_migrated_is_named(empty_database_url: str) -> None:
    env = {"MCD_DATABASE_URL": empty_database_url, "MCD_SECRET_KEY": TEST_SECRET}
    untraced(await run_cli("keys", "list", env=env), 1, "migrated?")


async def test_an_unreachable_database_is_named() -> None:
    env = {"MCD_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/none"}
    untraced(await run_cli("audit", "verify", env=env), 1, "Cannot reach the database")


async def test_the_spec_to_a_path_that_cannot_be_written(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "openapi.json"
    result = await run_cli("openapi", "-o", str(target), env={})
    untraced(result, 2, f"Cannot write {target}: No such file or directory")
