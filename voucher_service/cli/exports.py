"""Accounting exports with a progress display."""

from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.cli.base import (
    UNUSABLE_INPUT,
    app,
    console,
    fail,
    load_settings,
    refused,
    with_database,
)
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.core.errors import ServiceError
from voucher_service.payouts import exports as payout_exports
from voucher_service.payouts.downloads import check_period, reconciliation_filename
from voucher_service.payouts.fec import FEC_ENCODING, fec_filename

export_app = typer.Typer(help="Accounting exports.", no_args_is_help=True)
app.add_typer(export_app, name="export")
FromDay = Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day.")]
ToDay = Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")]
Output = Annotated[Path, typer.Option("-o", "--output", help="File to write.")]


def period(start: datetime, end: datetime) -> tuple[date, date]:
    """The days typed, refused as the API refuses them (exit 2 with its French message)."""
    try:
        check_period(start.date(), end.date())
    except ServiceError as error:
        raise refused(error, UNUSABLE_INPUT) from None
    return start.date(), end.date()


def open_output(output: Path, usual_name: str) -> BinaryIO:
    """The file to write, or exit 2 saying why it cannot be written."""
    if output.is_dir():
        message = f"Cannot write {output}: it is a directory. Give a file name, for example "
        raise fail(f"{message}{output / usual_name}.", UNUSABLE_INPUT)
    try:
        return output.open("wb")
    except OSError as error:
        raise fail(f"Cannot write {output}: {error.strerror}.", UNUSABLE_INPUT) from None


def _export(
    settings: Settings,
    target: BinaryIO,
    pieces: Callable[[AsyncSession], AsyncIterator[bytes]],
) -> int:
    """Write the streamed export to ``target`` with a progress bar; returns the bytes written."""

    async def run(db: Database) -> int:
        written = 0
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[size]}"),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"Exporting {target.name}", total=None, size="0 bytes")
            async with db.sessionmaker() as session, session.begin():
                async for piece in pieces(session):
                    target.write(piece)
                    written += len(piece)
                    progress.update(task, size=f"{written:,} bytes")
        return written

    with target:
        return with_database(settings, run)


@export_app.command("reconciliation")
def export_reconciliation(start: FromDay, end: ToDay, output: Output) -> None:
    """One row per cheque issued in the period: redeemed, paid, discrepancies (CSV)."""
    settings = load_settings()
    first, last = period(start, end)
    size = _export(
        settings,
        open_output(output, reconciliation_filename(first, last)),
        lambda session: payout_exports.reconciliation_csv(session, first, last),
    )
    console.print(f"[green]{output} written ({size:,} bytes).[/green]")


@export_app.command("fec")
def export_fec(start: FromDay, end: ToDay, output: Output) -> None:
    """The Fichier des Écritures Comptables of the period (ISO-8859-15)."""
    settings = load_settings()
    first, last = period(start, end)
    legal_name = fec_filename(settings.payout_siren, last)

    async def encoded(session: AsyncSession) -> AsyncIterator[bytes]:
        async for text in payout_exports.fec_text(session, first, last, settings):
            yield text.encode(FEC_ENCODING)

    size = _export(settings, open_output(output, legal_name), encoded)
    console.print(
        f"[green]{output} written ({size:,} bytes); the legal name is {legal_name}.[/green]"
    )
