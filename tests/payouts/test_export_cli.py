"""`voucher-service export`, run as an operator does: what it refuses, it says, exit 2."""

from datetime import date
from pathlib import Path

import pytest
from httpx import AsyncClient

from tests.fixtures.cli import Result, run_cli
from tests.fixtures.databases import TEST_SECRET
from tests.fixtures.factories import HeadersFor
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.payouts.fec import fec_filename

EXPORTS = {"reconciliation": "reconciliation.csv", "fec": "fec.txt"}


async def export(settings: Settings, kind: str, start: str, end: str, output: Path) -> Result:
    env = {"MCD_DATABASE_URL": settings.database_url, "MCD_SECRET_KEY": TEST_SECRET}
    return await run_cli("export", kind, "--from", start, "--to", end, "-o", str(output), env=env)


def said(result: Result) -> str:
    """What was printed, as one line."""
    return " ".join(result.stderr.split())


def untraced(result: Result, code: int) -> None:
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr, result.stderr


@pytest.mark.parametrize("kind", EXPORTS)
async def test_a_reversed_period_is_refused_with_the_apis_message(
    settings: Settings, client: AsyncClient, headers_for: HeadersFor, tmp_path: Path, kind: str
) -> None:
    api = await client.get(
        f"/api/v1/exports/{EXPORTS[kind]}",
        params={"from": "2027-02-01", "to": "2027-01-01"},
        headers=await headers_for(Role.accountant),
    )
    assert api.status_code == 422
    output = tmp_path / "export"
    result = await export(settings, kind, "2027-02-01", "2027-01-01", output)
    untraced(result, 2)
    assert f"Refused: “{api.json()['detail'].rstrip('.')}”" in said(result)
    assert not output.exists()


async def test_a_day_out_of_any_era_is_refused(settings: Settings, tmp_path: Path) -> None:
    result = await export(settings, "fec", "9999-12-30", "9999-12-31", tmp_path / "fec.txt")
    untraced(result, 2)
    assert "Refused: “Les dates doivent être comprises entre le 01/01/2000" in said(result)


@pytest.mark.parametrize("kind", EXPORTS)
async def test_a_directory_or_an_unwritable_path_is_refused(
    settings: Settings, tmp_path: Path, kind: str
) -> None:
    into_folder = await export(settings, kind, "2027-01-01", "2027-01-31", tmp_path)
    untraced(into_folder, 2)
    assert f"Cannot write {tmp_path}: it is a directory" in said(into_folder)
    if kind == "fec":
        legal = fec_filename(settings.payout_siren, date(2027, 1, 31))
        assert str(tmp_path / legal) in said(into_folder)
    nowhere = await export(settings, kind, "2027-01-01", "2027-01-31", tmp_path / "no" / "x")
    untraced(nowhere, 2)
    assert f"Cannot write {tmp_path / 'no' / 'x'}: No such file or directory" in said(nowhere)


async def test_a_good_period_is_written(settings: Settings, tmp_path: Path) -> None:
    output = tmp_path / "fec.txt"
    result = await export(settings, "fec", "2027-01-01", "2027-01-31", output)
    assert result.code == 0, result.stderr
    assert output.read_bytes().startswith(b"JournalCode|")
    assert f"{output} written" in said(result)
