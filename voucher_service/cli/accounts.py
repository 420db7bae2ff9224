"""Logins."""

import sys
from typing import Annotated

import typer

from voucher_service.cli.base import (
    app,
    console,
    load_settings,
    refused,
    with_database,
)
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import Role
from voucher_service.core.db import Database
from voucher_service.core.errors import ServiceError


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    role: Annotated[Role, typer.Option(help="admin, accountant or expert.")],
    password: Annotated[
        str | None, typer.Option(help="Read from standard input if absent.")
    ] = None,
) -> None:
    """Create a login."""
    settings = load_settings()
    secret = password if password is not None else sys.stdin.readline().rstrip("\n")
    if len(secret) < 12:
        console.print("[red]The password must have at least 12 characters.[/red]")
        raise typer.Exit(2)

    async def create(db: Database) -> None:
        async with db.sessionmaker() as session, session.begin():
            await auth_service.create_user(session, email, role, secret)

    try:
        with_database(settings, create)
    except ServiceError as error:
        raise refused(error) from None
    console.print(f"[green]Created {role.value} {email}.[/green]")
