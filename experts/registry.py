"""The expert registry: registration, accreditation decisions, bank details, invitations."""

from datetime import timedelta

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from experts import messages, repository
from experts.errors import (
    ExpertExists,
    ExpertNotFound,
    InvitationAlreadyAccepted,
    InvitationInvalid,
    NoPendingBankDetails,
    NotAccredited,
    TransitionRefused,
)
from experts.models import Accreditation, AccreditationChange, Expert, Invitation
from experts.schemas import BankDetails, ExpertCreate
from voucher_service.core import audit, db
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import Role, User
from voucher_service.core.auth.tokens import (
    MAX_LINK_TOKEN_LENGTH,
    link_token_hash,
    new_link_token,
)
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.context import current_actor

INVITATION_LIFETIME = timedelta(days=7)
ACCREDITATION_LABELS = {
    Accreditation.pending: "En attente d'accréditation",
    Accreditation.accredited: "Accrédité",
    Accreditation.suspended: "Accréditation suspendue",
    Accreditation.revoked: "Accréditation retirée",
}
ALLOWED = {
    Accreditation.accredited: {Accreditation.pending, Accreditation.suspended},
    Accreditation.suspended: {Accreditation.accredited},
    Accreditation.revoked: {
        Accreditation.pending,
        Accreditation.accredited,
        Accreditation.suspended,
    },
}


async def get(session: AsyncSession, expert_id: int) -> Expert:
    expert = await session.get(Expert, expert_id)
    if expert is None:
        raise ExpertNotFound(f"Aucun expert n°{expert_id}.")
    return expert


NOT_AN_EXPERT = "Ce compte n'est rattaché à aucun expert."


async def for_user(session: AsyncSession, user: User, *, locked: bool = False) -> Expert:
    """The user's expert (``locked``: under its row lock); a user who is none gets 404."""
    expert = await repository.expert_of(session, user.id, locked=locked)
    if expert is None:
        raise ExpertNotFound(NOT_AN_EXPERT)
    return expert


def can_redeem(expert: Expert) -> bool:
    return expert.status is Accreditation.accredited


def ensure_can_redeem(expert: Expert) -> None:
    """Only an accredited expert redeems a cheque, or reads one (its company, amount and
    balance)."""
    if not can_redeem(expert):
        raise NotAccredited(f"{ACCREDITATION_LABELS[expert.status]}.")


async def history(session: AsyncSession, expert_id: int) -> list[AccreditationChange]:
    return await repository.accreditation_changes(session, expert_id)


@db.atomic
async def register(
    session: AsyncSession, body: ExpertCreate, settings: Settings
) -> tuple[Expert, str | None]:
    """The expert and its login; without a password, the one-time invitation token."""
    try:
        user = await auth_service.create_user(session, body.email, Role.expert, body.password)
    except auth_service.EmailTaken:
        raise ExpertExists(f"Le compte {body.email} existe déjà.") from None
    assert user.id is not None
    expert = Expert(
        user_id=user.id,
        siret=body.siret,
        legal_name=body.name,
        contact_name=body.contact_name or body.name,
        email=user.email,
        phone=body.phone,
        iban=body.iban,
        bic=body.bic,
        themes=body.themes,
        departments=body.departments,
    )
    session.add(expert)
    await session.flush()
    await _record_change(session, expert, None, Accreditation.pending, None)
    audit.record(
        session,
        "expert.registered",
        "expert",
        expert.id,
        after=expert.model_dump(mode="json", exclude={"iban"}),
    )
    if body.password:
        return expert, None
    token = await _invite(session, user.id)
    await messages.invite(session, expert, token, utcnow() + INVITATION_LIFETIME, settings)
    return expert, token


async def _invite(session: AsyncSession, user_id: int) -> str:
    """A new one-time link; the links sent before it no longer work."""
    for earlier in await repository.unused_invitations(session, user_id):
        earlier.used_at = utcnow()
    token, token_hash = new_link_token()
    session.add(
        Invitation(
            user_id=user_id, token_hash=token_hash, expires_at=utcnow() + INVITATION_LIFETIME
        )
    )
    await session.flush()
    return token


def _usable(token: str) -> Select[Invitation]:
    """The unused, unexpired invitation of a link token (none for an overlong token)."""
    digest = link_token_hash(token) if len(token) <= MAX_LINK_TOKEN_LENGTH else ""
    return repository.usable_invitation(digest, utcnow())


async def invitation_usable(session: AsyncSession, token: str) -> bool:
    return (await session.execute(_usable(token))).first() is not None


@db.atomic
async def accept_invitation(session: AsyncSession, token: str, password: str) -> User:
    query = _usable(token).with_for_update()
    invitation = (await session.execute(query)).scalar_one_or_none()
    if invitation is None:
        raise InvitationInvalid()
    user = await session.get(User, invitation.user_id)
    assert user is not None
    invitation.used_at = utcnow()
    await auth_service.change_password(session, user, password)
    audit.record(session, "expert.invitation_accepted", "user", user.id)
    return user


def _refused_transition(now: Accreditation, to: Accreditation) -> TransitionRefused:
    if now is Accreditation.revoked:
        return TransitionRefused("L'accréditation a été retirée : ce retrait est définitif.")
    return TransitionRefused(
        f"L'expert est dans l'état « {ACCREDITATION_LABELS[now]} » : "
        f"il ne peut pas passer à « {ACCREDITATION_LABELS[to]} »."
    )


@db.atomic
async def change_status(
    session: AsyncSession, expert_id: int, to: Accreditation, reason: str, settings: Settings
) -> Expert:
    """Accredit, suspend or revoke, with the reason the expert is told by e-mail."""
    expert = await get(session, expert_id)
    if expert.status not in ALLOWED.get(to, set()):
        raise _refused_transition(expert.status, to)
    before = expert.status
    expert.status, expert.status_changed_at = to, utcnow()
    await _record_change(session, expert, before, to, reason)
    audit.record(
        session,
        f"expert.{to.value}",
        "expert",
        expert.id,
        before={"status": before.value},
        after={"status": to.value, "reason": reason},
    )
    await messages.tell_decision(session, expert, to, reason, settings)
    return expert


async def _record_change(
    session: AsyncSession,
    expert: Expert,
    before: Accreditation | None,
    to: Accreditation,
    reason: str | None,
) -> None:
    assert expert.id is not None
    session.add(
        AccreditationChange(
            expert_id=expert.id,
            from_status=before,
            to_status=to,
            decided_by=current_actor.get().user_id,
            reason=reason,
        )
    )
    await session.flush()


async def request_bank_change(
    session: AsyncSession, expert: Expert, details: BankDetails
) -> Expert:
    """New bank details wait for an administrator before any payout uses them."""
    expert.pending_iban, expert.pending_bic = details.iban, details.bic
    await session.flush()
    audit.record(
        session,
        "expert.bank_details_requested",
        "expert",
        expert.id,
        after={"iban_last4": details.iban[-4:], "bic": details.bic},
    )
    return expert


async def _with_pending_bank_details(session: AsyncSession, expert_id: int) -> Expert:
    expert = await get(session, expert_id)
    if not expert.pending_iban or not expert.pending_bic:
        raise NoPendingBankDetails("L'expert n'a pas demandé de nouvelles coordonnées bancaires.")
    return expert


@db.atomic
async def confirm_bank_change(session: AsyncSession, expert_id: int) -> Expert:
    expert = await _with_pending_bank_details(session, expert_id)
    assert expert.pending_iban and expert.pending_bic
    before = {"iban_last4": expert.iban[-4:], "bic": expert.bic}
    expert.iban, expert.bic = expert.pending_iban, expert.pending_bic
    expert.pending_iban = expert.pending_bic = None
    await session.flush()
    audit.record(
        session,
        "expert.bank_details_confirmed",
        "expert",
        expert.id,
        before=before,
        after={"iban_last4": expert.iban[-4:], "bic": expert.bic},
    )
    return expert


@db.atomic
async def refuse_bank_change(session: AsyncSession, expert_id: int, reason: str) -> Expert:
    """The requested bank details are dropped; payouts keep the confirmed ones, and the
    expert is told why by e-mail."""
    expert = await _with_pending_bank_details(session, expert_id)
    assert expert.pending_iban and expert.pending_bic
    refused = {"iban_last4": expert.pending_iban[-4:], "bic": expert.pending_bic}
    expert.pending_iban = expert.pending_bic = None
    await session.flush()
    audit.record(
        session,
        "expert.bank_details_refused",
        "expert",
        expert.id,
        before=refused,
        after={"reason": reason},
    )
    await messages.tell_bank_details_refused(session, expert, refused["iban_last4"], reason)
    return expert


async def invitation_pending(session: AsyncSession, expert: Expert) -> bool:
    """The expert has not chosen its password yet: an invitation may be sent again."""
    user = await session.get(User, expert.user_id)
    return user is not None and user.password_hash is None


@db.atomic
async def resend_invitation(session: AsyncSession, expert_id: int, settings: Settings) -> Expert:
    """A new link to choose the password, for an expert who has not chosen one yet; the
    links sent before stop working."""
    expert = await get(session, expert_id)
    user = await session.get(User, expert.user_id)
    assert user is not None and user.id is not None
    if user.password_hash is not None:
        raise InvitationAlreadyAccepted(
            "L'expert a déjà choisi son mot de passe : s'il l'a oublié, envoyez-lui un lien "
            "de réinitialisation depuis la page de son compte."
        )
    token = await _invite(session, user.id)
    await messages.invite(session, expert, token, utcnow() + INVITATION_LIFETIME, settings)
    audit.record(session, "expert.invitation_sent", "expert", expert.id)
    return expert
