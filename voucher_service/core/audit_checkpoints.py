"""Signed checkpoints of the audit trail, published outside the database.

Whoever can write to the database can recompute the whole hash chain, but not sign: a
checkpoint is the chain's head (sequence number, hash, time) signed with an Ed25519 key
derived (HKDF-SHA256) from ``MCD_AUDIT_SIGNING_SECRET``, or ``MCD_SECRET_KEY`` when unset,
and never stored. Each one is kept in the database for the admin endpoint, written as a
JSON file to ``MCD_AUDIT_CHECKPOINT_DIR`` beside the public key, and e-mailed to
``MCD_AUDIT_AUDITOR_EMAILS``. ``audit verify`` checks the chain against the checkpoints it
is given with the public key alone: a rewrite, a truncation or a head rolled back before
a checkpoint no longer matches it.

The sealer takes one every ``MCD_AUDIT_CHECKPOINT_SECONDS`` once the chain has grown, under
the head's lock, so that a single process signs a given head.
"""

import base64
import binascii
import hashlib
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from voucher_service.core import audit
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.db import Database, UTCDateTime
from voucher_service.core.errors import InternalError
from voucher_service.core.notify import SERVICE_FOOTER, Notify

HKDF_INFO = b"mon-coach-digital/audit-checkpoint-key/v1"
CONTEXT = "mon-coach-digital/audit-checkpoint/v1"
PUBLIC_KEY_FILE = "audit-public-key.pem"
EMAIL_EVENT = "audit_checkpoint"


class CheckpointBase(SQLModel):
    seq: int
    hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_type=UTCDateTime)
    key_id: str = Field(max_length=16)
    signature: str = Field(max_length=88)


class AuditCheckpoint(CheckpointBase, table=True):
    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)


class Checkpoint(CheckpointBase):
    """A checkpoint as it is published: in its file, its e-mail and at the admin endpoint."""

    def attestation(self) -> audit.Attestation:
        return audit.Attestation(self.seq, self.hash, self.signed_at)

    def file_name(self) -> str:
        return f"checkpoint-{self.seq:010d}-{self.signed_at:%Y%m%dT%H%M%SZ}.json"


class CheckpointNotPublished(InternalError):
    code = "audit_checkpoint_not_published"
    title = "Le point de contrôle du journal d'audit n'a pas pu être publié"


class CheckpointUnreadable(ValueError):
    """A checkpoint or key file that cannot be read as one."""


class CheckpointForged(ValueError):
    """A checkpoint that the audit key did not sign."""


@lru_cache(maxsize=4)
def _derived_key(secret: str) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return Ed25519PrivateKey.from_private_bytes(seed.derive(secret.encode()))


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    secret = settings.audit_signing_secret or settings.secret_key
    return _derived_key(secret.get_secret_value())


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise CheckpointUnreadable(f"{path}: not a readable PEM public key ({error})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointUnreadable(f"{path}: not an Ed25519 public key")
    return key


def _message(seq: int, digest: str, signed_at: datetime, kid: str) -> bytes:
    when = signed_at.astimezone(UTC).isoformat()
    return f"{CONTEXT}\n{kid}\n{seq}\n{digest}\n{when}\n".encode()


def sign(settings: Settings, seq: int, digest: str, signed_at: datetime) -> Checkpoint:
    private_key = signing_key(settings)
    kid = key_id(private_key.public_key())
    signature = base64.b64encode(private_key.sign(_message(seq, digest, signed_at, kid)))
    return Checkpoint(
        seq=seq, hash=digest, signed_at=signed_at, key_id=kid, signature=signature.decode()
    )


def is_signed_by(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    message = _message(checkpoint.seq, checkpoint.hash, checkpoint.signed_at, checkpoint.key_id)
    try:
        public_key.verify(base64.b64decode(checkpoint.signature, validate=True), message)
    except (InvalidSignature, binascii.Error):
        return False
    return checkpoint.key_id == key_id(public_key)


async def checkpoint(
    session: AsyncSession, settings: Settings, notify: Notify, *, wait: bool
) -> Checkpoint | None:
    """Sign the chain's head, keep it, publish it and e-mail it to the auditors; None at
    once when a sealer holds the head, unless ``wait``."""
    head = await audit.lock_head(session, wait=wait)
    if head is None:
        return None
    return await _publish(session, settings, notify, head)


async def checkpoint_if_due(database: Database, settings: Settings, notify: Notify) -> None:
    """The sealer's periodic checkpoint: when the last one is ``MCD_AUDIT_CHECKPOINT_SECONDS``
    old and the chain has grown since. The head is locked only once the time has come, and
    the last checkpoint read again then, so that two processes never sign the same head."""
    async with database.sessionmaker() as session, session.begin():
        if not _time_for(await _latest(session), settings):
            return
        head = await audit.lock_head(session, wait=False)
        last = await _latest(session)
        if head is None or head.seq <= (last.seq if last else 0) or not _time_for(last, settings):
            return
        await _publish(session, settings, notify, head)


async def _latest(session: AsyncSession) -> AuditCheckpoint | None:
    latest = select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).limit(1)
    return (await session.execute(latest)).scalars().first()


def _time_for(last: AuditCheckpoint | None, settings: Settings) -> bool:
    interval = timedelta(seconds=settings.audit_checkpoint_seconds)
    return last is None or last.signed_at + interval <= utcnow()


async def _publish(
    session: AsyncSession, settings: Settings, notify: Notify, head: audit.AuditHead
) -> Checkpoint:
    """The head as locked is committed: its checkpoint holds even if this transaction, which
    only records it, rolls back after the file is written."""
    signed = sign(settings, head.seq, head.last_hash, utcnow().replace(microsecond=0))
    session.add(AuditCheckpoint(**signed.model_dump()))
    await session.flush()
    if settings.audit_checkpoint_dir is not None:
        write_files(settings.audit_checkpoint_dir, signed, settings)
    text = signed.model_dump_json(indent=2)
    data = {"seq": signed.seq, "signed_at": signed.signed_at, "checkpoint_json": text}
    for address in settings.audit_auditor_emails:
        await notify(session, EMAIL_EVENT, address, data | SERVICE_FOOTER)
    return signed


def write_files(directory: Path, signed: Checkpoint, settings: Settings) -> Path:
    """The checkpoint's file and the public key, each replaced whole or not at all."""
    public = public_key_pem(signing_key(settings).public_key())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_whole(directory / PUBLIC_KEY_FILE, public)
        return _write_whole(directory / signed.file_name(), signed.model_dump_json(indent=2))
    except OSError as error:
        raise CheckpointNotPublished(f"Écriture impossible dans {directory} : {error}") from None


def _write_whole(path: Path, text: str) -> Path:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    os.replace(temporary, path)
    return path


def read_checkpoints(paths: Sequence[Path]) -> list[tuple[Path, Checkpoint]]:
    """The checkpoints of these files, and of the ``checkpoint-*.json`` files of these
    folders."""
    files = [
        file
        for path in paths
        for file in (sorted(path.glob("checkpoint-*.json")) if path.is_dir() else [path])
    ]
    checkpoints = []
    for file in files:
        try:
            checkpoints.append((file, Checkpoint.model_validate_json(file.read_bytes())))
        except (OSError, ValidationError) as error:
            raise CheckpointUnreadable(f"{file}: not a readable checkpoint ({error})") from None
    return checkpoints


def attestations(
    checkpoints: Sequence[tuple[Path, Checkpoint]], public_key: Ed25519PublicKey
) -> list[audit.Attestation]:
    """What the checkpoints attest, each refused unless this key signed it."""
    for file, signed in checkpoints:
        if not is_signed_by(signed, public_key):
            raise CheckpointForged(f"{file}: not signed by the audit key {key_id(public_key)}")
    return [signed.attestation() for _, signed in checkpoints]


async def page(session: AsyncSession, offset: int, limit: int) -> tuple[list[AuditCheckpoint], int]:
    """The checkpoints kept, newest first, and how many there are."""
    query = (
        select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).offset(offset).limit(limit)
    )
    total = await session.scalar(select(func.count()).select_from(AuditCheckpoint))
    return list((await session.execute(query)).scalars()), total or 0
