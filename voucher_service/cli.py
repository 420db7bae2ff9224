"""`voucher-service`: serve, migrate, deliver e-mail, manage accounts, keys and cheques,
check the audit trail."""

import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import httpx
import typer
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import delivery
from voucher_service import demo as demo_data
from voucher_service.applications import messages as application_messages
from voucher_service.applications import service as applications_service
from voucher_service.applications.registry import RegistryClient
from voucher_service.core import audit, schema
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.core.errors import ServiceError
from voucher_service.core.formatting import euros, paris_datetime
from voucher_service.core.logs import LOG_CONFIG
from voucher_service.payouts import exports as payout_exports
from voucher_service.payouts.fec import FEC_ENCODING, fec_filename
from voucher_service.vouchers import keys, tokens
from voucher_service.vouchers import service as voucher_service
from voucher_service.vouchers.validity import paris_today

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
        proxy_headers=True,
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


@app.command()
def demo(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Migrate, seed demo data, print the logins and serve."""
    settings = load_settings()

    async def prepare(db: Database) -> list[demo_data.DemoLogin]:
        await schema.upgrade(db.engine)
        async with db.sessionmaker() as session, session.begin():
            return await demo_data.seed(session, settings)

    logins = with_database(settings, prepare)
    table = Table(title="Demo logins")
    for column in ("role", "e-mail", "password"):
        table.add_column(column)
    for login in logins:
        table.add_row(login.role.value, login.email, login.password)
    Console().print(table)
    Console().print(f"Serving on http://{host}:{port}/ — the application form is at /apply")
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
        console.print(f"[red]{error.detail or error.title}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]Created {role.value} {email}.[/green]")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit trail's hash chain; exit 1 naming the first broken row."""

    async def verify(db: Database) -> tuple[int, audit.ChainBreak | None]:
        async with db.sessionmaker() as session:
            return await audit.verify_chain(session)

    count, broken = with_database(load_settings(), verify)
    if broken is not None:
        console.print(
            f"[red]Audit chain broken at event #{broken.seq} "
            f"(row id {broken.event_id}): {broken.reason}.[/red]"
        )
        raise typer.Exit(1)
    console.print(f"[green]Audit chain intact: {count} events verified.[/green]")


@app.command("openapi")
def write_openapi(
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("openapi/openapi.json"),
) -> None:
    """Write the OpenAPI spec generated from the app."""
    from voucher_service.app import create_app
    from voucher_service.core import openapi

    output.write_text(openapi.render(create_app(Settings())), encoding="utf-8")
    console.print(f"Wrote {output}")


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
            console.print(f"[red]#{application_id}: {error.detail or error.title}[/red]")
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


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; a ServiceError exits 1 with its message."""

    async def run(db: Database) -> T:
        async with db.sessionmaker() as session, session.begin():
            return await work(session)

    try:
        return with_database(settings, run)
    except ServiceError as error:
        console.print(f"[red]{error.detail or error.title}[/red]")
        raise typer.Exit(1) from None


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start a new signing key for new cheques; older keys keep verifying until retired."""
    settings = load_settings()
    key = _in_transaction(settings, lambda session: keys.create_key(session, settings))
    console.print(f"[green]New signing key {key.kid}: new cheques are signed with it.[/green]")


@keys_app.command("list")
def keys_list() -> None:
    """The signing keys, newest (the active one) first."""
    found = _in_transaction(load_settings(), keys.all_keys)
    table = Table(title="Signing keys")
    for column in ("kid", "created", "retired"):
        table.add_column(column)
    for key in found:
        table.add_row(key.kid, paris_datetime(key.created_at), paris_datetime(key.retired_at))
    Console().print(table)


@keys_app.command("retire")
def keys_retire(
    kid: str,
    force: Annotated[
        bool, typer.Option(help="Retire even if live cheques use it (they stop verifying).")
    ] = False,
) -> None:
    """Stop verifying a key that is no longer active."""
    live = _in_transaction(
        load_settings(), lambda session: keys.retire(session, kid, paris_today(), force=force)
    )
    console.print(f"[green]Key {kid} retired[/green] ({live} live cheque(s) signed by it).")


def _published_key(jwks_url: str, kid: str) -> Ed25519PublicKey | None:
    try:
        response = httpx.get(jwks_url, timeout=10, follow_redirects=True)
        response.raise_for_status()
        members = response.json()["keys"]
    except (httpx.HTTPError, ValueError, KeyError) as error:
        console.print(f"[red]Could not read the keys at {jwks_url}: {error}[/red]")
        raise typer.Exit(1) from None
    for member in members:
        if member.get("kid") == kid:
            return keys.public_key_from_jwk(member)
    return None


def _refuse(message: str) -> typer.Exit:
    console.print(f"[red]Refused: {message}[/red]")
    return typer.Exit(1)


@app.command("verify")
def verify(
    token: Annotated[str, typer.Argument(help="The token, or the URL a cheque's QR code holds.")],
    jwks_url: Annotated[
        str | None,
        typer.Option(help="Published keys (…/.well-known/jwks.json); default: the database's."),
    ] = None,
) -> None:
    """Check a cheque's signature offline and print its claims; exit 1 when refused."""
    try:
        signed = tokens.parse(tokens.presented_text(token))
        claims = tokens.verify(signed, _verifying_key(signed.kid, jwks_url))
    except tokens.TokenRefused as refused:
        raise _refuse(f"invalid token ({refused})") from None
    printed = {"kid": claims.kid, "sub": str(claims.voucher_id), "amt": claims.amount_cents}
    print(json.dumps({**printed, "exp": claims.expires_at}))
    ends_at = datetime.fromtimestamp(claims.expires_at, UTC)
    summary = f"cheque n°{claims.voucher_id}, {euros(claims.amount_cents)}, key {claims.kid}"
    if ends_at <= datetime.now(UTC):
        raise _refuse(f"signature valid but expired on {paris_datetime(ends_at)} ({summary})")
    console.print(
        f"[green]Signature valid[/green]: {summary}, valid until {paris_datetime(ends_at)}."
    )


def _verifying_key(kid: str, jwks_url: str | None) -> Ed25519PublicKey:
    """The published key of that id (from the URL, else from the database), or exit 1."""
    if jwks_url:
        public_key = _published_key(jwks_url, kid)
    else:
        public_key = _in_transaction(load_settings(), lambda session: keys.public_key(session, kid))
    if public_key is None:
        raise _refuse(f"unknown signing key {kid}")
    return public_key


@vouchers_app.command("remind-expiring")
def remind_expiring() -> None:
    """E-mail, once, the beneficiaries whose unused cheque expires within a week."""
    settings = load_settings()
    count = _in_transaction(
        settings,
        lambda session: application_messages.remind_expiring(session, paris_today(), settings),
    )
    console.print(f"[green]{count} reminder(s) queued.[/green]")


@vouchers_app.command("sweep-expired")
def sweep_expired() -> None:
    """Record as expired the cheques past their last day; give their balance back."""
    expired = _in_transaction(
        load_settings(), lambda session: voucher_service.sweep_expired(session, paris_today())
    )
    returned = sum(voucher.balance_cents for voucher in expired)
    console.print(
        f"[green]{len(expired)} cheque(s) expired[/green]; {euros(returned)} back to the envelopes."
    )


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
