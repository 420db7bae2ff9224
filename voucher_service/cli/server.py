"""Serving: migrate, serve, demo, the mail worker, the OpenAPI spec."""

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from notifications import delivery
from voucher_service import demo as demo_data
from voucher_service.applications.fictitious_registry import COMPANIES
from voucher_service.cli.base import (
    UNUSABLE_INPUT,
    Host,
    Port,
    app,
    console,
    fail,
    load_settings,
    with_database,
)
from voucher_service.core import schema
from voucher_service.core.config import FICTITIOUS_REGISTRY, Settings
from voucher_service.core.db import Database
from voucher_service.core.logs import LOG_CONFIG


@app.command()
def migrate() -> None:
    """Bring the database to the latest schema."""
    settings = load_settings()
    with_database(settings, lambda db: schema.upgrade(db.engine))
    console.print("[green]Database at the latest schema.[/green]")


def require_migrated(settings: Settings) -> None:
    if not with_database(settings, lambda db: schema.is_at_head(db.engine)):
        console.print(
            "[red]The database is not at the latest schema.[/red] "
            "Run `voucher-service migrate` first."
        )
        raise typer.Exit(1)


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    require_migrated(settings)
    uvicorn.run(
        "voucher_service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        log_config=LOG_CONFIG,
        access_log=False,
    )


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API and the pages (the database must be migrated)."""
    _serve(load_settings(), host, port, workers)


def _demo_defaults(host: str, port: int) -> None:
    """What the demo needs unless the environment says otherwise: the fictitious registry
    (no internet needed), and links and QR codes that point at the server it starts."""
    settings = load_settings()
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
    defaults = {
        "registry_url": ("MCD_REGISTRY_URL", FICTITIOUS_REGISTRY),
        "public_url": ("MCD_PUBLIC_URL", f"http://{shown}:{port}"),
    }
    for field, (variable, value) in defaults.items():
        if field not in settings.model_fields_set:
            os.environ[variable] = value


def _print_demo(logins: list[demo_data.DemoLogin], settings: Settings) -> None:
    table = Table(title="Demo logins")
    for column in ("role", "e-mail", "password"):
        table.add_column(column)
    for login in logins:
        table.add_row(login.role.value, login.email, login.password)
    Console().print(table)
    if settings.registry_url == FICTITIOUS_REGISTRY:
        sirets = Table(title="Fictitious companies to apply with (built-in registry)")
        for column in ("SIRET", "company", "outcome"):
            sirets.add_column(column)
        for company in COMPANIES:
            sirets.add_row(company.siret, company.name, company.what_it_shows)
        Console().print(sirets)
    Console().print(f"Serving on {settings.public_url}/ — the application form is at /apply")


@app.command()
def demo(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Migrate, seed demo data, print the logins and serve (offline unless
    MCD_REGISTRY_URL is set)."""
    _demo_defaults(host, port)
    settings = load_settings()

    async def prepare(db: Database) -> list[demo_data.DemoLogin]:
        await schema.upgrade(db.engine)
        async with db.sessionmaker() as session, session.begin():
            return await demo_data.seed(session, settings)

    _print_demo(with_database(settings, prepare), settings)
    _serve(settings, host, port, 1)


async def _deliver_until_stopped(
    db: Database, settings: Settings, poll_interval: float, batch_size: int
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await delivery.run(db, settings, poll_interval, batch_size, stop)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then exit.")] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between looks at the outbox.")
    ] = 5.0,
    batch_size: Annotated[int, typer.Option(min=1, max=500, help="Messages per claim.")] = 50,
) -> None:
    """Deliver queued e-mail by SMTP; several workers may run at once on PostgreSQL."""
    settings = load_settings()
    if not settings.smtp_host:
        console.print("[red]MCD_SMTP_HOST is not set:[/red] messages stay queued until it is.")
        raise typer.Exit(2)
    require_migrated(settings)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not once:
        with_database(
            settings, lambda db: _deliver_until_stopped(db, settings, poll_interval, batch_size)
        )
        return
    tally = with_database(settings, lambda db: delivery.drain(db, settings, batch_size))
    console.print(f"Sent {tally.sent}, to retry {tally.retried}, dead {tally.dead}.")
    if tally.unreachable:
        console.print(f"[red]SMTP server unreachable:[/red] {tally.unreachable}")
        raise typer.Exit(1)


@app.command("openapi")
def write_openapi(
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("openapi/openapi.json"),
) -> None:
    """Write the OpenAPI spec generated from the app."""
    from voucher_service.app import create_app
    from voucher_service.core import openapi

    spec = openapi.render(create_app(load_settings()))
    try:
        output.write_text(spec, encoding="utf-8")
    except OSError as error:
        raise fail(f"Cannot write {output}: {error.strerror}.", UNUSABLE_INPUT) from None
    console.print(f"Wrote {output}")
