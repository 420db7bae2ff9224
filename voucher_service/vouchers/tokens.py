"""The cheque token: a JWS compact serialization (RFC 7515) signed with EdDSA (RFC 8037).

Header ``{"alg":"EdDSA","kid":...}``; claims kept short so that the QR stays easy to scan:
``sub`` (the voucher id, a string as JWT wants it), ``amt`` (cents) and ``exp`` (the end of
the last valid day, Unix seconds). No personal data. Decoding is strict: canonical
base64url only, so that no two token strings carry the same signature.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
ALLOWED_HEADER = {"alg", "kid", "typ"}
# A key id is base64url of a bounded length (ours are 16 characters: a shortened
# thumbprint), checked before any lookup: no NUL or other byte reaches the database.
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class TokenRefused(ValueError):
    """The token is malformed or its signature does not hold."""


@dataclass(frozen=True)
class Claims:
    voucher_id: int
    amount_cents: int
    expires_at: int  # Unix seconds
    kid: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Strict base64url: no padding and no stray bits, so that the encoding is unique."""
    if not SEGMENT.match(segment):
        raise TokenRefused("caractères invalides")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenRefused("base64url invalide") from None
    if b64url(data) != segment:
        raise TokenRefused("encodage base64url non canonique")
    return data


def presented_text(presented: str) -> str:
    """The token in what a QR says (``{public_url}/r/{token}``, whatever the host), or what
    was presented, trimmed: a token or a typed code."""
    text = presented.strip()
    if not text.lower().startswith(("http://", "https://")):
        return text
    try:
        path = urlsplit(text).path
    except ValueError:
        raise TokenRefused("cette adresse est illisible") from None
    if "/r/" not in path:
        raise TokenRefused("cette adresse n'est pas celle d'un chèque")
    return path.rsplit("/r/", 1)[1].strip("/")


def _json_segment(data: dict[str, Any]) -> str:
    return b64url(json.dumps(data, separators=(",", ":")).encode())


def sign(private_key: Ed25519PrivateKey, claims: Claims) -> str:
    header = _json_segment({"alg": ALGORITHM, "kid": claims.kid})
    payload = _json_segment(
        {"sub": str(claims.voucher_id), "amt": claims.amount_cents, "exp": claims.expires_at}
    )
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{b64url(private_key.sign(signing_input.encode('ascii')))}"


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(segment))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TokenRefused("JSON invalide") from None
    if not isinstance(value, dict):
        raise TokenRefused("un objet JSON est attendu")
    return value


def is_key_id(kid: str) -> bool:
    return KEY_ID.fullmatch(kid) is not None


def _header_kid(header: dict[str, Any]) -> str:
    if header.get("alg") != ALGORITHM or not set(header) <= ALLOWED_HEADER:
        raise TokenRefused("en-tête non accepté")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("identifiant de clé manquant")
    if not is_key_id(kid):
        raise TokenRefused("identifiant de clé invalide")
    return kid


def _claims(payload: dict[str, Any], kid: str) -> Claims:
    subject, amount, expiry = payload.get("sub"), payload.get("amt"), payload.get("exp")
    if not (isinstance(subject, str) and subject.isdigit() and subject.isascii()):
        raise TokenRefused("numéro de chèque invalide")
    if type(amount) is not int or type(expiry) is not int:
        raise TokenRefused("montant ou échéance invalide")
    return Claims(int(subject), amount, expiry, kid)


@dataclass(frozen=True)
class SignedToken:
    """A well-formed token, split, before its signature is checked."""

    kid: str
    signing_input: bytes
    signature: bytes
    payload_segment: str


def parse(token: str) -> SignedToken:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRefused("un jeton JWS compact a trois parties")
    header_segment, payload_segment, signature_segment = parts
    kid = _header_kid(_json_object(header_segment))
    signature = b64url_decode(signature_segment)
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    return SignedToken(kid, signing_input, signature, payload_segment)


def verify(signed: SignedToken, public_key: Ed25519PublicKey) -> Claims:
    """The claims of a token whose signature holds under that key, else TokenRefused."""
    try:
        public_key.verify(signed.signature, signed.signing_input)
    except InvalidSignature:
        raise TokenRefused("signature invalide") from None
    return _claims(_json_object(signed.payload_segment), signed.kid)
