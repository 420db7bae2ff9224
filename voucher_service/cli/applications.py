"""Applications: re-checks against the registry, and the GDPR purge."""

from typing import Annotated

import typer

from voucher_service.applications import service as applications_service
from voucher_service.applications.registry import RegistryClient
from voucher_service.cli.base import (
    app,
    applications_app,
    complain,
    console,
    load_settings,
    quoted,
    with_database,
)
from voucher_service.core.db import Database
from voucher_service.core.errors import ServiceError


async def _recheck_each(db: Database, registry: RegistryClient, ids: list[int]) -> int:
    """One transaction per application, so that one failure leaves the others done."""
    failures = 0
    for application_id in ids:
        try:
            async with db.sessionmaker() as session, session.begin():
                application = await applications_service.recheck(session, application_id, registry)
            console.print(f"#{application_id}: {application.status.value}")
        except ServiceError as error:
            failures += 1
            complain(f"#{application_id}: refused: {quoted(error.detail or error.title)}")
    return failures


@applications_app.command("recheck")
def recheck(
    ids: Annotated[list[int] | None, typer.Argument(help="Application numbers.")] = None,
    all_pending: Annotated[
        bool, typer.Option("--all-pending", help="Every application waiting for review.")
    ] = False,
) -> None:
    """Check eligibility again against the registry and the current rules."""
    settings = load_settings()
    if not ids and not all_pending:
        console.print("[red]Give application numbers or --all-pending.[/red]")
        raise typer.Exit(2)

    async def run(db: Database) -> int:
        registry = RegistryClient.from_settings(settings)
        try:
            targets = list(ids or [])
            if all_pending:
                async with db.sessionmaker() as session:
                    targets += await applications_service.waiting_for_review(session)
            return await _recheck_each(db, registry, list(dict.fromkeys(targets)))
        finally:
            await registry.aclose()

    failures = with_database(settings, run)
    raise typer.Exit(1 if failures else 0)


@app.command()
def purge() -> None:
    """Anonymise the contact details of refused applications past the retention period."""
    settings = load_settings()

    async def run(db: Database) -> int:
        async with db.sessionmaker() as session, session.begin():
            return await applications_service.purge(session, settings)

    count = with_database(settings, run)
    console.print(
        f"[green]{count} application(s) anonymised "
        f"(retention: {settings.retention_months} months).[/green]"
    )
