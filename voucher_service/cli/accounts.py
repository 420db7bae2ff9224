"""Logins and the audit trail."""

import sys
from typing import Annotated

import typer

from voucher_service.cli.base import (
    app,
    audit_app,
    console,
    fail,
    load_settings,
    quoted,
    refused,
    with_database,
)
from voucher_service.core import audit
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


@audit_app.command("verify")
def audit_verify() -> None:
    """Seal the events not chained yet, then recompute the whole hash chain; exit 1 naming
    the first broken row."""

    async def verify(db: Database) -> tuple[int, audit.ChainBreak | None]:
        await audit.seal_committed(db, wait=True)
        async with db.sessionmaker() as session:
            return await audit.verify_chain(session)

    count, broken = with_database(load_settings(), verify)
    if broken is not None:
        where = f"event #{broken.seq} (row id {broken.event_id})"
        raise fail(f"Audit chain broken at {where}: {quoted(broken.reason)}.")
    console.print(f"[green]Audit chain intact: {count} events verified.[/green]")
