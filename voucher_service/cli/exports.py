"""Accounting exports with a progress display."""

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.cli.base import (
    app,
    console,
    load_settings,
    with_database,
)
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.payouts import exports as payout_exports
from voucher_service.payouts.fec import FEC_ENCODING, fec_filename

export_app = typer.Typer(help="Accounting exports.", no_args_is_help=True)
app.add_typer(export_app, name="export")
FromDay = Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day.")]
ToDay = Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")]
Output = Annotated[Path, typer.Option("-o", "--output", help="File to write.")]


def _export(
    settings: Settings,
    output: Path,
    pieces: Callable[[AsyncSession], AsyncIterator[bytes]],
) -> int:
    """Write the streamed export to ``output`` with a progress bar; returns the bytes written."""

    async def run(db: Database) -> int:
        written = 0
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[size]}"),
        )
        with Progress(*columns, console=console) as progress, output.open("wb") as target:
            task = progress.add_task(f"Export {output.name}", total=None, size="0 o")
            async with db.sessionmaker() as session, session.begin():
                async for piece in pieces(session):
                    target.write(piece)
                    written += len(piece)
                    progress.update(task, size=f"{written:,} o".replace(",", " "))
        return written

    return with_database(settings, run)


@export_app.command("reconciliation")
def export_reconciliation(start: FromDay, end: ToDay, output: Output) -> None:
    """One row per cheque issued in the period: redeemed, paid, discrepancies (CSV)."""
    settings = load_settings()
    size = _export(
        settings,
        output,
        lambda session: payout_exports.reconciliation_csv(session, start.date(), end.date()),
    )
    console.print(f"[green]{output} written ({size} bytes).[/green]")


@export_app.command("fec")
def export_fec(start: FromDay, end: ToDay, output: Output) -> None:
    """The Fichier des Écritures Comptables of the period (ISO-8859-15)."""
    settings = load_settings()

    async def encoded(session: AsyncSession) -> AsyncIterator[bytes]:
        async for text in payout_exports.fec_text(session, start.date(), end.date(), settings):
            yield text.encode(FEC_ENCODING)

    size = _export(settings, output, encoded)
    console.print(
        f"[green]{output} written ({size} bytes); the legal name is "
        f"{fec_filename(settings.payout_siren, end.date())}.[/green]"
    )
