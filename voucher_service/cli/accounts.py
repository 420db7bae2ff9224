"""Logins."""

import sys
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.cli.base import (
    UNUSABLE_INPUT,
    app,
    console,
    fail,
    in_transaction,
    load_settings,
)
from voucher_service.core.auth import enrolment
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import Role, User

Email = Annotated[str, typer.Option(help="Login e-mail.")]
Password = Annotated[str | None, typer.Option(help="Read from standard input if absent.")]
RoleOption = Annotated[Role, typer.Option(help="admin, accountant or expert.")]


def read_password(password: str | None) -> str:
    secret = password if password is not None else sys.stdin.readline().rstrip("\n")
    if len(secret) < 12:
        raise fail("The password must have at least 12 characters.", UNUSABLE_INPUT)
    return secret


def change_user(email: str, change: Callable[[AsyncSession, User], Awaitable[None]]) -> None:
    """Apply ``change`` to the login in one committed transaction."""

    async def work(session: AsyncSession) -> None:
        await change(session, await auth_service.find(session, email))

    in_transaction(load_settings(), work)


@app.command("create-user")
def create_user(email: Email, role: RoleOption, password: Password = None) -> None:
    """Create a login."""
    settings = load_settings()
    secret = read_password(password)

    async def create(session: AsyncSession) -> None:
        await auth_service.create_user(session, email, role, secret)

    in_transaction(settings, create)
    console.print(f"[green]Created {role.value} {email}.[/green]")


@app.command("set-password")
def set_password(email: Email, password: Password = None) -> None:
    """Change a login's password; every session and token of that login ends."""
    secret = read_password(password)
    change_user(email, lambda session, user: auth_service.change_password(session, user, secret))
    console.print(f"[green]Password of {email} changed; its sessions have ended.[/green]")


@app.command("set-role")
def set_role(email: Email, role: RoleOption) -> None:
    """Change a login's role; every session and token of that login ends."""
    change_user(email, lambda session, user: auth_service.change_role(session, user, role))
    console.print(f"[green]{email} is now {role.value}; its sessions have ended.[/green]")


@app.command("deactivate-user")
def deactivate_user(email: Email) -> None:
    """Refuse a login from now on; every session and token of that login ends."""
    change_user(email, lambda session, user: auth_service.set_active(session, user, False))
    console.print(f"[green]{email} is deactivated; its sessions have ended.[/green]")


@app.command("activate-user")
def activate_user(email: Email) -> None:
    """Let a deactivated login sign in again (its old sessions stay ended)."""
    change_user(email, lambda session, user: auth_service.set_active(session, user, True))
    console.print(f"[green]{email} can log in again.[/green]")


@app.command("reset-2fa")
def reset_second_factor(email: Email) -> None:
    """Remove a login's second factor (lost phone and recovery codes); its sessions end and
    it enrols again at its next login when its role requires one."""
    change_user(email, enrolment.reset)
    console.print(f"[green]Second factor of {email} removed; its sessions have ended.[/green]")
