"""Signing keys, offline verification, expiry sweeps and reminders."""

import json
from datetime import UTC, datetime
from typing import Annotated

import httpx
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.table import Table

from voucher_service.applications import messages as application_messages
from voucher_service.cli.base import (
    app,
    console,
    fail,
    in_transaction,
    keys_app,
    load_settings,
    operator_time,
    quoted,
    vouchers_app,
)
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.formatting import euros, french_date
from voucher_service.vouchers import keys, tokens
from voucher_service.vouchers import service as voucher_service
from voucher_service.vouchers.validity import last_valid_day


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start a new signing key for new cheques; older keys keep verifying until retired."""
    settings = load_settings()
    key = in_transaction(settings, lambda session: keys.create_key(session, settings))
    console.print(f"[green]New signing key {key.kid}: new cheques are signed with it.[/green]")


@keys_app.command("list")
def keys_list() -> None:
    """The signing keys, newest (the active one) first."""
    found = in_transaction(load_settings(), keys.all_keys)
    table = Table(title="Signing keys")
    for column in ("kid", "created", "retired"):
        table.add_column(column)
    for key in found:
        table.add_row(key.kid, operator_time(key.created_at), operator_time(key.retired_at))
    Console().print(table)


# A key id is base64url: one in 64 starts with "-", which must not be read as an option.
@keys_app.command("retire", context_settings={"ignore_unknown_options": True})
def keys_retire(
    kid: str,
    force: Annotated[
        bool, typer.Option(help="Retire even if live cheques use it (they stop verifying).")
    ] = False,
) -> None:
    """Stop verifying a key that is no longer active."""
    live = in_transaction(
        load_settings(), lambda session: keys.retire(session, kid, paris_today(), force=force)
    )
    console.print(f"[green]Key {kid} retired[/green] ({live} live cheque(s) signed by it).")


def _published_key(jwks_url: str, kid: str) -> Ed25519PublicKey | None:
    try:
        response = httpx.get(jwks_url, timeout=10, follow_redirects=True)
        response.raise_for_status()
        members = response.json()["keys"]
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, TypeError) as error:
        raise fail(f"Could not read the keys at {jwks_url}: {error}") from None
    for member in members:
        if member.get("kid") == kid:
            return keys.public_key_from_jwk(member)
    return None


def _refuse(message: str) -> typer.Exit:
    return fail(f"Refused: {message}")


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
        raise _refuse(f"invalid token: {quoted(str(refused))}") from None
    printed = {"kid": claims.kid, "sub": str(claims.voucher_id), "amt": claims.amount_cents}
    print(json.dumps({**printed, "exp": claims.expires_at}))
    ends_at = datetime.fromtimestamp(claims.expires_at, UTC)
    last_day = french_date(last_valid_day(ends_at))
    summary = f"cheque #{claims.voucher_id}, {euros(claims.amount_cents)}, key {claims.kid}"
    if ends_at <= utcnow():
        raise _refuse(f"signature valid but expired, last valid day {last_day} ({summary})")
    console.print(
        f"[green]Signature valid[/green]: {summary}, valid until {last_day} inclusive (Paris time)."
    )


def _verifying_key(kid: str, jwks_url: str | None) -> Ed25519PublicKey:
    """The published key of that id (from the URL, else from the database), or exit 1."""
    if jwks_url:
        public_key = _published_key(jwks_url, kid)
    else:
        public_key = in_transaction(load_settings(), lambda session: keys.public_key(session, kid))
    if public_key is None:
        raise _refuse(f"unknown signing key {kid}")
    return public_key


@vouchers_app.command("remind-expiring")
def remind_expiring() -> None:
    """E-mail, once, the beneficiaries whose unused cheque expires within a week."""
    settings = load_settings()
    count = in_transaction(
        settings,
        lambda session: application_messages.remind_expiring(session, paris_today(), settings),
    )
    console.print(f"[green]{count} reminder(s) queued.[/green]")


@vouchers_app.command("sweep-expired")
def sweep_expired() -> None:
    """Record as expired the cheques past their last day; give their balance back."""
    expired = in_transaction(
        load_settings(), lambda session: voucher_service.sweep_expired(session, paris_today())
    )
    returned = sum(voucher.balance_cents for voucher in expired)
    console.print(
        f"[green]{len(expired)} cheque(s) expired[/green]; {euros(returned)} back to the envelopes."
    )
