"""Signing keys: Ed25519 pairs kept in the database, the private half encrypted with AES-GCM
under a key derived (HKDF-SHA256) from MCD_SECRET_KEY.

Loaded keys are cached per process. Issuing asks the database which key is active (one
indexed row), so that a `keys rotate` run elsewhere is followed at once; public keys for
verification are kept for a minute, so that a retired key stops verifying within that time.
"""

import hashlib
import json
import os
import time
from datetime import date
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.core import audit
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.vouchers.errors import (
    ActiveKeyRetirement,
    SigningKeyInUse,
    SigningKeyNotFound,
    SigningKeyUnreadable,
)
from voucher_service.vouchers.models import SPENDABLE, SigningKey, Voucher
from voucher_service.vouchers.tokens import b64url, b64url_decode

HKDF_INFO = b"mon-coach-digital/voucher-signing-key/v1"
NONCE_BYTES = 12
PUBLIC_KEY_SECONDS = 60.0

_private_keys: dict[str, Ed25519PrivateKey] = {}
_public_keys: dict[str, tuple[Ed25519PublicKey, float]] = {}


@lru_cache(maxsize=4)
def _wrapping_cipher(secret: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return AESGCM(derived.derive(secret.encode()))


def _cipher(settings: Settings) -> AESGCM:
    return _wrapping_cipher(settings.secret_key.get_secret_value())


def encrypt_private_key(settings: Settings, kid: str, private_key: Ed25519PrivateKey) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(settings).encrypt(nonce, private_key.private_bytes_raw(), kid.encode())
    return b64url(nonce + sealed)


def decrypt_private_key(settings: Settings, key: SigningKey) -> Ed25519PrivateKey:
    data = b64url_decode(key.private_key_encrypted)
    try:
        raw = _cipher(settings).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key.kid.encode())
    except InvalidTag:
        raise SigningKeyUnreadable(
            f"La clé {key.kid} ne se déchiffre pas : MCD_SECRET_KEY a-t-il changé ?"
        ) from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def thumbprint(public_raw: bytes) -> str:
    """RFC 7638 JWK thumbprint, shortened to 96 bits: short in every token, still unique."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest()[:12])


def jwk(key: SigningKey) -> dict[str, Any]:
    """The public half as an RFC 8037 OKP JSON Web Key."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": key.public_key,
        "kid": key.kid,
        "use": "sig",
        "alg": "EdDSA",
    }


def public_key_from_jwk(member: dict[str, Any]) -> Ed25519PublicKey:
    if (member.get("kty"), member.get("crv")) != ("OKP", "Ed25519"):
        raise ValueError(f"not an Ed25519 key: {member.get('kid')}")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(member["x"]))


async def create_key(session: AsyncSession, settings: Settings) -> SigningKey:
    """A new active key for new cheques (`keys rotate`); older keys keep verifying."""
    private_key = Ed25519PrivateKey.generate()
    public_raw = private_key.public_key().public_bytes_raw()
    kid = thumbprint(public_raw)
    key = SigningKey(
        kid=kid,
        public_key=b64url(public_raw),
        private_key_encrypted=encrypt_private_key(settings, kid, private_key),
    )
    session.add(key)
    await session.flush()
    _private_keys[kid] = private_key
    audit.record(session, "signing_key.created", "signing_key", kid, after={"kid": kid})
    return key


async def active_kid(session: AsyncSession) -> str | None:
    query = (
        select(col(SigningKey.kid))
        .where(col(SigningKey.retired_at).is_(None))
        .order_by(col(SigningKey.id).desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _by_kid(session: AsyncSession, kid: str) -> SigningKey | None:
    query = select(SigningKey).where(col(SigningKey.kid) == kid)
    return (await session.execute(query)).scalar_one_or_none()


async def signer(session: AsyncSession, settings: Settings) -> tuple[str, Ed25519PrivateKey]:
    """The active key id and private key; the first key is created on first use."""
    kid = await active_kid(session)
    if kid is None:
        kid = (await create_key(session, settings)).kid
    if kid not in _private_keys:
        key = await _by_kid(session, kid)
        assert key is not None
        _private_keys[kid] = decrypt_private_key(settings, key)
    return kid, _private_keys[kid]


async def public_key(session: AsyncSession, kid: str) -> Ed25519PublicKey | None:
    """The key that verifies tokens of that id, or None when unknown or retired."""
    cached = _public_keys.get(kid)
    if cached is not None and time.monotonic() - cached[1] < PUBLIC_KEY_SECONDS:
        return cached[0]
    key = await _by_kid(session, kid)
    if key is None or key.retired_at is not None:
        _public_keys.pop(kid, None)
        return None
    loaded = Ed25519PublicKey.from_public_bytes(b64url_decode(key.public_key))
    _public_keys[kid] = (loaded, time.monotonic())
    return loaded


async def published(session: AsyncSession) -> list[SigningKey]:
    """Keys that still verify, newest first."""
    query = (
        select(SigningKey)
        .where(col(SigningKey.retired_at).is_(None))
        .order_by(col(SigningKey.id).desc())
    )
    return list((await session.execute(query)).scalars())


async def all_keys(session: AsyncSession) -> list[SigningKey]:
    query = select(SigningKey).order_by(col(SigningKey.id).desc())
    return list((await session.execute(query)).scalars())


async def _live_cheques_signed_by(session: AsyncSession, kid: str, today: date) -> int:
    query = select(func.count()).where(
        col(Voucher.key_id) == kid,
        col(Voucher.status).in_(SPENDABLE),
        col(Voucher.valid_until) >= today,
    )
    return int((await session.execute(query)).scalar_one())


async def retire(session: AsyncSession, kid: str, today: date, *, force: bool = False) -> int:
    """Stop verifying a key; returns how many live cheques it still signed (refused unless
    forced, since those cheques could no longer be redeemed)."""
    key = await _by_kid(session, kid)
    if key is None or key.retired_at is not None:
        raise SigningKeyNotFound(f"Aucune clé active « {kid} ».")
    if kid == await active_kid(session):
        raise ActiveKeyRetirement()
    live = await _live_cheques_signed_by(session, kid, today)
    if live and not force:
        raise SigningKeyInUse(f"{live} chèque(s) en cours sont signés par « {kid} ».", live=live)
    key.retired_at = utcnow()
    await session.flush()
    _public_keys.pop(kid, None)
    audit.record(session, "signing_key.retired", "signing_key", kid, after={"live": live})
    return live
