"""Turning a user's second factor on and off, and renewing its recovery codes. Each change
ends every session of the user (the screen that made it signs in again at once), and is
audited without any secret."""

import asyncio

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.core import audit
from voucher_service.core.auth import second_factor, service, throttle
from voucher_service.core.auth.models import RecoveryCode, User
from voucher_service.core.auth.tokens import verify_password
from voucher_service.core.config import Settings
from voucher_service.core.errors import Conflict, Unauthorized


class AlreadyEnrolled(Conflict):
    code = "totp_already_enabled"
    title = "La double authentification est déjà activée"


class NotEnrolled(Conflict):
    code = "totp_not_enabled"
    title = "La double authentification n'est pas activée"


class RequiredByRole(Conflict):
    code = "totp_required_by_role"
    title = "Votre rôle exige la double authentification"


class ProofRefused(Unauthorized):
    code = "invalid_password_or_totp"
    title = "Mot de passe ou code incorrect"


async def enable(
    session: AsyncSession, settings: Settings, user: User, pending: str, code: str
) -> list[str]:
    """Enrol the secret shown by ``pending`` once ``code`` proves the app has it; returns
    the recovery codes, to be shown once."""
    if user.totp_secret is not None:
        raise AlreadyEnrolled()
    secret = second_factor.pending_secret(settings, user, pending)
    step = second_factor.matching_step(secret, "".join(code.split()))
    if step is None:
        raise second_factor.InvalidTotp("Ce code ne correspond pas : saisissez le code affiché.")
    user.totp_secret = second_factor.encrypt_secret(settings, secret)
    user.totp_last_step = step
    codes = await second_factor.replace_recovery_codes(session, user)
    audit.record(session, "user.totp_enabled", "user", user.id)
    await service.end_sessions(session, user, "totp_enabled")
    return codes


async def _ensure_proof(
    session: AsyncSession, settings: Settings, user: User, proof: str, address: str
) -> None:
    """The password, a current code or a recovery code of the user; a wrong one counts as
    a failed login, so that a borrowed session cannot guess them."""
    await throttle.ensure_may_try(session, settings, user.email, address)
    if await asyncio.to_thread(verify_password, user.password_hash, proof):
        return
    if not await second_factor.verify_code(session, settings, user, proof):
        throttle.record_failure(session, user.email, address)
        raise ProofRefused("Le mot de passe ou le code saisi est incorrect.")


async def disable(
    session: AsyncSession, settings: Settings, user: User, proof: str, address: str
) -> None:
    if user.totp_secret is None:
        raise NotEnrolled()
    if second_factor.is_required(settings, user):
        raise RequiredByRole("Elle ne peut pas être désactivée ; renouvelez vos codes de secours.")
    await _ensure_proof(session, settings, user, proof, address)
    await _turn_off(session, user, "user")


async def reset(session: AsyncSession, user: User) -> None:
    """An operator removes the second factor of a user who lost both app and codes."""
    if user.totp_secret is None:
        raise NotEnrolled()
    await _turn_off(session, user, "operator")


async def _turn_off(session: AsyncSession, user: User, by: str) -> None:
    """Remove the second factor and its recovery codes (``by``: the user, or an operator)."""
    user.totp_secret = None
    user.totp_last_step = None
    await session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    audit.record(session, "user.totp_disabled", "user", user.id, after={"by": by})
    await service.end_sessions(session, user, "totp_disabled")


async def renew_recovery_codes(
    session: AsyncSession, settings: Settings, user: User, code: str, address: str
) -> list[str]:
    """New recovery codes for a current TOTP code; the old ones stop working."""
    if user.totp_secret is None:
        raise NotEnrolled()
    await throttle.ensure_may_try(session, settings, user.email, address)
    if not await second_factor.verify_code(session, settings, user, code, recovery=False):
        throttle.record_failure(session, user.email, address)
        raise second_factor.InvalidTotp("Ce code est incorrect ou a déjà servi.")
    codes = await second_factor.replace_recovery_codes(session, user)
    audit.record(session, "user.recovery_codes_renewed", "user", user.id)
    await service.end_sessions(session, user, "recovery_codes_renewed")
    return codes
