"""The `voucher-service` application, its command groups and what every command shares."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

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
console = Console(stderr=True)
T = TypeVar("T")

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            console.print(f"[red]Configuration refused:[/red] {problem['msg']}")
        raise typer.Exit(2) from None


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database.from_settings(settings)
        try:
            return await work(database)
        finally:
            await database.engine.dispose()

    return asyncio.run(run())


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; a ServiceError exits 1 with its message."""

    async def run(db: Database) -> T:
        async with db.sessionmaker() as session, session.begin():
            return await work(session)

    try:
        return with_database(settings, run)
    except ServiceError as error:
        console.print(f"[red]{error.detail or error.title}[/red]")
        raise typer.Exit(1) from None
