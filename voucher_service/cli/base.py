"""The `voucher-service` application, its command groups and what every command shares."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core import config
from voucher_service.core.clock import PARIS
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.core.errors import ServiceError

app = typer.Typer(
    help="Mon coach digital — Région Sud digital-coaching cheques.", no_args_is_help=True
)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
applications_app = typer.Typer(help="Applications.", no_args_is_help=True)
app.add_typer(applications_app, name="applications")
keys_app = typer.Typer(help="The keys that sign cheques.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
vouchers_app = typer.Typer(help="Cheques.", no_args_is_help=True)
app.add_typer(vouchers_app, name="vouchers")
console = Console(stderr=True, soft_wrap=True)  # paths and messages stay whole
T = TypeVar("T")

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]


# Exit codes: 1 when the service refuses or fails, 2 when what was typed cannot be used.
REFUSED = 1
UNUSABLE_INPUT = 2


def complain(message: str) -> None:
    """Print ``message`` (plain text, never markup) in red."""
    console.print(f"[red]{escape(message)}[/red]")


def fail(message: str, code: int = REFUSED) -> typer.Exit:
    """Complain; the exit to raise."""
    complain(message)
    return typer.Exit(code)


def refused(error: ServiceError, code: int = REFUSED) -> typer.Exit:
    """The service's refusal, its French message quoted."""
    return fail(f"Refused: {quoted(error.detail or error.title)}", code)


def quoted(french: str) -> str:
    """A French reason from the service, quoted inside an English sentence."""
    return f"“{french.rstrip('.')}”"


def operator_time(value: datetime | None) -> str:
    """01/12/2026 19:21, in Paris time, as the pages show it but with no French word."""
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if value else "—"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for refusal in config.refusals(error):
            console.print(f"[red]Configuration refused:[/red] {escape(refusal)}")
        raise typer.Exit(UNUSABLE_INPUT) from None


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh engine; an unreachable or unprepared database exits 1."""

    async def run() -> T:
        database = Database.from_settings(settings)
        try:
            return await work(database)
        finally:
            await database.engine.dispose()

    try:
        return asyncio.run(run())
    except DBAPIError as error:
        raise fail(f"Database error: {error.orig}. Is it reachable, and migrated?") from None
    except OSError as error:
        raise fail(f"Cannot reach the database: {error}.") from None


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; a ServiceError exits 1 with its message."""

    async def run(db: Database) -> T:
        async with db.sessionmaker() as session, session.begin():
            return await work(session)

    try:
        return with_database(settings, run)
    except ServiceError as error:
        raise refused(error) from None
