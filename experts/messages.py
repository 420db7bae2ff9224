"""What experts and beneficiaries are told about redemptions and invitations, queued in the
transaction of the change that causes it."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experts.models import Accreditation, Expert, Redemption
from notifications import service as notifications
from voucher_service.core.config import Settings
from voucher_service.core.notify import SERVICE_FOOTER
from voucher_service.programmes import service as programmes
from voucher_service.programmes.models import Programme
from voucher_service.vouchers.models import Voucher


def _common(programme: Programme, voucher: Voucher, expert: Expert) -> dict[str, Any]:
    return {
        "programme_name": programme.name,
        "programme_contact": programme.contact_email,
        "company_name": voucher.company_name,
        "voucher_code": voucher.code,
        "expert_name": expert.legal_name,
    }


async def tell_redeemed(
    session: AsyncSession,
    expert: Expert,
    redemption: Redemption,
    voucher: Voucher,
    programme: Programme,
    cancel_until: datetime,
) -> None:
    """A receipt to the expert, and word to the beneficiary that the cheque was used."""
    data = {
        **_common(programme, voucher, expert),
        "amount_cents": redemption.amount_cents,
        "redeemed_at": redemption.redeemed_at,
    }
    await notifications.enqueue(
        session,
        "redemption_receipt",
        expert.email,
        {**data, "invoice_reference": redemption.invoice_reference, "cancel_until": cancel_until},
    )
    await notifications.enqueue(
        session,
        "voucher_redeemed",
        voucher.beneficiary_email,
        {**data, "contact_name": "Madame, Monsieur", "balance_cents": voucher.balance_cents},
    )


async def tell_cancelled(
    session: AsyncSession, expert: Expert, redemption: Redemption, voucher: Voucher
) -> None:
    programme = await programmes.get(session, voucher.programme_id)
    data = {**_common(programme, voucher, expert), "amount_cents": redemption.amount_cents}
    await notifications.enqueue(session, "redemption_cancelled", expert.email, data)


async def invite(
    session: AsyncSession, expert: Expert, token: str, expires_at: datetime, settings: Settings
) -> None:
    data = {
        **SERVICE_FOOTER,
        "expert_name": expert.contact_name,
        "invitation_url": f"{settings.public_url}/invitation/{token}",
        "expires_at": expires_at,
    }
    await notifications.enqueue(session, "expert_invitation", expert.email, data)


DECISION_EVENTS = {
    Accreditation.accredited: "expert_accredited",
    Accreditation.suspended: "expert_suspended",
    Accreditation.revoked: "expert_revoked",
}


async def tell_decision(
    session: AsyncSession, expert: Expert, to: Accreditation, reason: str, settings: Settings
) -> None:
    """The expert learns the accreditation decision and its reason."""
    data = {
        **SERVICE_FOOTER,
        "expert_name": expert.contact_name,
        "reason": reason,
        "expert_url": f"{settings.public_url}/expert",
    }
    await notifications.enqueue(session, DECISION_EVENTS[to], expert.email, data)


async def tell_bank_details_refused(
    session: AsyncSession, expert: Expert, iban_last4: str, reason: str
) -> None:
    data = {
        **SERVICE_FOOTER,
        "expert_name": expert.contact_name,
        "iban_last4": iban_last4,
        "current_iban_last4": expert.iban[-4:],
        "reason": reason,
    }
    await notifications.enqueue(session, "expert_bank_details_refused", expert.email, data)
