"""What an operator can type that the CLI cannot use: a message and an exit code, never a
Python traceback."""

from pathlib import Path

import pytest

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


@pytest.mark.parametrize(
    ("command", "variable", "value", "line"),
    [
        (
            ("migrate",),
            "MCD_SMTP_TLS",
            "false",
            "MCD_SMTP_TLS='false' is refused: Input should be 'starttls', 'tls' or 'none'",
        ),
        (
            ("serve",),
            "MCD_SMTP_PORT",
            "deux",
            "MCD_SMTP_PORT='deux' is refused: Input should be a valid integer",
        ),
        (
            ("worker", "--once"),
            "MCD_MAIL_MAX_ATTEMPTS",
            "0",
            "MCD_MAIL_MAX_ATTEMPTS='0' is refused: Input should be greater than or equal to 1",
        ),
        (
            ("keys", "list"),
            "MCD_PAYOUT_CUTOFF_HOUR",
            "25",
            "MCD_PAYOUT_CUTOFF_HOUR must be a whole hour from 0 to 23 (Paris time), got '25'",
        ),
        (
            ("demo",),
            "MCD_FORWARDED_ALLOW_IPS",
            "proxy.local",
            "MCD_FORWARDED_ALLOW_IPS must be the proxies' addresses or networks, comma-separated "
            "(10.0.0.5,172.18.0.0/16), or *, got 'proxy.local'",
        ),
        (
            ("audit", "verify"),
            "MCD_ENV",
            "prod",
            "MCD_ENV='prod' is refused: Input should be 'development', 'test' or 'production'",
        ),
    ],
)
async def test_a_refused_setting_names_its_variable_value_and_what_is_accepted(
    command: tuple[str, ...], variable: str, value: str, line: str
) -> None:
    result = await run_cli(*command, env={variable: value})
    untraced(result, 2, f"Configuration refused: {line}")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


async def test_a_refused_secret_is_named_but_never_printed() -> None:
    secret = "short-secret-value"
    result = await run_cli("serve", env={"MCD_ENV": "production", "MCD_SECRET_KEY": secret})
    untraced(result, 2, "Configuration refused: MCD_SECRET_KEY must be set")
    assert secret not in result.stderr
