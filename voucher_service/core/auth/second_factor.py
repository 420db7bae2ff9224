"""A second factor for logins: a TOTP code (RFC 6238, pyotp) from the user's app, or one of
ten one-time recovery codes. The TOTP secret is stored encrypted (Fernet, with a key derived
from MCD_SECRET_KEY by HKDF); recovery codes only as their SHA-256. A code is accepted
within one time step either side, and never twice: the latest accepted step is claimed in
the user's row by a conditional UPDATE."""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Update, delete, literal, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from voucher_service.core import audit
from voucher_service.core.auth import throttle
from voucher_service.core.auth.models import RecoveryCode, User
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.errors import BadRequest, Forbidden, Unauthorized

ISSUER = "Mon coach digital"
RECOVERY_CODE_COUNT = 10
ENROLMENT_SECONDS = 15 * 60  # time to scan the QR code and type the first code
CODE_DIGITS = 6


class TotpRequired(Unauthorized):
    code = "totp_required"
    title = "Code de vérification requis"


class InvalidTotp(Unauthorized):
    code = "invalid_totp"
    title = "Code de vérification incorrect ou déjà utilisé"


class EnrolmentRequired(Forbidden):
    code = "totp_enrolment_required"
    title = "Activez la double authentification pour continuer"


class EnrolmentExpired(BadRequest):
    code = "totp_enrolment_expired"
    title = "Ce QR code a expiré : recommencez l'activation"


@dataclass(frozen=True)
class Enrolment:
    """A fresh secret, shown to the user, and its encrypted copy that the confirmation
    brings back (bound to the user, valid ENROLMENT_SECONDS)."""

    secret: str
    uri: str
    pending: str


def _fernet(settings: Settings) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mcd:totp-secret").derive(
        settings.secret_key.get_secret_value().encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def is_required(settings: Settings, user: User) -> bool:
    return user.role in settings.second_factor_roles


def must_enrol(settings: Settings, user: User) -> bool:
    """Whether the user must enrol a second factor before anything else."""
    return user.totp_secret is None and is_required(settings, user)


def ensure_enrolled(settings: Settings, user: User) -> None:
    """Refuse everything but enrolment to a user who must have a second factor and has none."""
    if must_enrol(settings, user):
        raise EnrolmentRequired(
            "Votre rôle exige la double authentification : activez-la dans /account/2fa."
        )


def new_enrolment(settings: Settings, user: User, secret: str | None = None) -> Enrolment:
    """An enrolment of a fresh secret (or of one being confirmed, shown again)."""
    secret = secret or pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    pending = _fernet(settings).encrypt(f"{user.id}:{secret}".encode()).decode()
    return Enrolment(secret, uri, pending)


def pending_secret(settings: Settings, user: User, pending: str) -> str:
    """The secret of an enrolment begun by this user and not yet expired."""
    try:
        owner, _, secret = (
            _fernet(settings).decrypt(pending.encode(), ttl=ENROLMENT_SECONDS).decode()
        ).partition(":")
    except (InvalidToken, UnicodeError):
        raise EnrolmentExpired() from None
    if owner != str(user.id):
        raise EnrolmentExpired()
    return secret


def encrypt_secret(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode()


def _secret_of(settings: Settings, user: User) -> str:
    assert user.totp_secret is not None
    return _fernet(settings).decrypt(user.totp_secret.encode()).decode()


def matching_step(secret: str, code: str) -> int | None:
    """The time step, within one of now, whose code this is."""
    if len(code) != CODE_DIGITS or not code.isdecimal():
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(utcnow())
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def _changed_a_row(session: AsyncSession, statement: Update) -> bool:
    """Whether a conditional UPDATE found its row: the database decides, once."""
    done = statement.returning(literal(1)).execution_options(synchronize_session=False)
    return (await session.execute(done)).first() is not None


async def claim_step(session: AsyncSession, user: User, step: int) -> bool:
    """Record the step as used, unless it or a later one already was."""
    unused = or_(col(User.totp_last_step).is_(None), col(User.totp_last_step) < step)
    claim = update(User).where(col(User.id) == user.id, unused).values(totp_last_step=step)
    if not await _changed_a_row(session, claim):
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").lower().encode()).hexdigest()


async def replace_recovery_codes(session: AsyncSession, user: User) -> list[str]:
    """Ten new recovery codes (returned to be shown once); the previous ones stop working."""
    await session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    assert user.id is not None
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(c)) for c in codes)
    await session.flush()
    return codes


async def _use_recovery_code(session: AsyncSession, user: User, code: str) -> bool:
    unused = (
        col(RecoveryCode.user_id) == user.id,
        col(RecoveryCode.code_hash) == _recovery_hash(code),
        col(RecoveryCode.used_at).is_(None),
    )
    if not await _changed_a_row(
        session, update(RecoveryCode).where(*unused).values(used_at=utcnow())
    ):
        return False
    audit.record(session, "user.recovery_code_used", "user", user.id)
    return True


async def verify_code(
    session: AsyncSession, settings: Settings, user: User, code: str, recovery: bool = True
) -> bool:
    """Whether this is a current, unused TOTP code of the user (or, when allowed, one of its
    unused recovery codes); an accepted code is used up."""
    code = "".join(code.split())
    if user.totp_secret is None or not code:
        return False
    step = matching_step(_secret_of(settings, user), code)
    if step is not None:
        return await claim_step(session, user, step)
    return recovery and await _use_recovery_code(session, user, code)


async def check_login_code(
    session: AsyncSession, settings: Settings, user: User, code: str | None, address: str
) -> None:
    """The login's second step; a wrong code counts as a failed login in the throttle."""
    if not code:
        raise TotpRequired("Saisissez le code à 6 chiffres de votre application.")
    await throttle.ensure_may_try(session, settings, user.email, address)
    if not await verify_code(session, settings, user, code):
        throttle.record_failure(session, user.email, address)
        raise InvalidTotp("Ce code est incorrect ou a déjà servi.")
