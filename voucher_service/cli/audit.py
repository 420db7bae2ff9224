"""The audit trail: verify its chain against signed checkpoints, take one, show the key."""

from pathlib import Path
from typing import Annotated

import typer

from notifications import service as notifications_service
from voucher_service.cli.base import (
    UNUSABLE_INPUT,
    audit_app,
    console,
    fail,
    load_settings,
    quoted,
    refused,
    with_database,
)
from voucher_service.core import audit, audit_checkpoints
from voucher_service.core.audit_checkpoints import CheckpointForged, CheckpointUnreadable
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.core.errors import ServiceError

Checkpoints = Annotated[
    list[Path] | None,
    typer.Option(
        "--checkpoint",
        help="A checkpoint file, or a folder of them; repeatable. "
        "Default: MCD_AUDIT_CHECKPOINT_DIR when it exists.",
    ),
]
PublicKey = Annotated[
    Path | None,
    typer.Option(help="The audit public key (PEM). Default: derived from the service's secret."),
]


@audit_app.command("verify")
def audit_verify(checkpoint: Checkpoints = None, public_key: PublicKey = None) -> None:
    """Recompute the hash chain and check it against signed checkpoints, sealing nothing;
    exit 1 naming the first event concerned, or an event left unsealed too long."""
    settings = load_settings()
    attested = _attested(settings, checkpoint, public_key)

    async def verify(db: Database) -> tuple[int, audit.ChainBreak | None]:
        async with db.sessionmaker() as session:
            return await audit.verify_chain(session, attested, settings.audit_seal_grace)

    count, broken = with_database(settings, verify)
    if broken is not None:
        where = f"event #{broken.seq} (row id {broken.event_id})"
        raise fail(f"Audit chain broken at {where}: {quoted(broken.reason)}.")
    console.print(
        f"[green]Audit chain intact: {count} events verified, "
        f"against {len(attested)} signed checkpoints.[/green]"
    )
    if not attested:
        console.print("[yellow]Without a checkpoint, a recomputed chain goes unnoticed.[/yellow]")


def _attested(
    settings: Settings, paths: list[Path] | None, key_file: Path | None
) -> list[audit.Attestation]:
    folder = settings.audit_checkpoint_dir
    if paths is None:
        paths = [folder] if folder is not None and folder.is_dir() else []
    try:
        key = (
            audit_checkpoints.load_public_key(key_file)
            if key_file is not None
            else audit_checkpoints.signing_key(settings).public_key()
        )
        return audit_checkpoints.attestations(audit_checkpoints.read_checkpoints(paths), key)
    except CheckpointUnreadable as error:
        raise fail(f"Unusable input: {error}.", UNUSABLE_INPUT) from None
    except CheckpointForged as error:
        raise fail(f"Checkpoint refused: {error}.") from None


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Seal what has committed, sign the chain's head and publish it (MCD_AUDIT_CHECKPOINT_DIR,
    e-mail to MCD_AUDIT_AUDITOR_EMAILS); the checkpoint's JSON goes to standard output."""
    settings = load_settings()

    async def take(db: Database) -> audit_checkpoints.Checkpoint | None:
        await audit.seal_committed(db, wait=True)
        async with db.sessionmaker() as session, session.begin():
            return await audit_checkpoints.checkpoint(
                session, settings, notifications_service.enqueue, wait=True
            )

    try:
        signed = with_database(settings, take)
    except ServiceError as error:
        raise refused(error) from None
    if signed is None:
        raise fail("The audit chain has no head row: is the database migrated?")
    typer.echo(signed.model_dump_json(indent=2))
    folder = settings.audit_checkpoint_dir
    where = f"written to {folder / signed.file_name()}" if folder else "not written to a file"
    console.print(f"[green]Checkpoint of event #{signed.seq} signed, {where}.[/green]")


@audit_app.command("public-key")
def audit_public_key() -> None:
    """Print the public key (PEM) that verifies the checkpoints: give it to the auditors."""
    typer.echo(
        audit_checkpoints.public_key_pem(
            audit_checkpoints.signing_key(load_settings()).public_key()
        ),
        nl=False,
    )
