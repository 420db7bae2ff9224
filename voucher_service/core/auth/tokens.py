"""Password hashing (argon2) and its rules, one-time link tokens, and the HS256 JWT that
carries a login.

Every token carries the user's session epoch (`ep`): it is valid only while the user row
still has that epoch, so raising it ends every login of the user at once."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from voucher_service.core.auth.models import User
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("an unguessable password that no account has")
ALGORITHM = "HS256"
MIN_PASSWORD_LENGTH = 12
MAX_LINK_TOKEN_LENGTH = 200
CONFIRM_FIELD = "password_confirm"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Verifies a real hash even without one (the dummy's): the same work for every account."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)  # raises unless it matches
    except (VerificationError, InvalidHashError):
        return False
    return bool(password_hash)


def new_password_errors(password: str, confirmation: str) -> dict[str, str]:
    """What is wrong with a password someone chooses, by form field, in French."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return {
            "password": f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères."
        }
    if password != confirmation:
        return {CONFIRM_FIELD: "Les deux mots de passe ne sont pas identiques."}
    return {}


def new_link_token() -> tuple[str, str]:
    """A one-time link's secret (sent, never stored) and its hash (stored)."""
    token = secrets.token_urlsafe(32)
    return token, link_token_hash(token)


def link_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(settings: Settings, user: User, lifetime: timedelta, kind: str = "access") -> str:
    assert user.id is not None
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "role": user.role.value,
        "ep": user.session_epoch,
        "typ": kind,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)


def read_token(settings: Settings, token: str, kind: str = "access") -> dict[str, Any] | None:
    """The claims of a valid, unexpired token of that kind, else None."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "ep"]},
        )
    except jwt.PyJWTError:
        return None
    return claims if claims.get("typ") == kind else None
