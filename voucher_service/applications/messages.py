"""What the applicant is told, and when: each message is queued in the transaction of the
decision that causes it (the notifications outbox sends it after the commit)."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import service as notifications
from notifications.schemas import Attachment
from voucher_service.applications.links import status_url
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.core.config import Settings
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import service as vouchers
from voucher_service.vouchers.models import SPENDABLE, Voucher
from voucher_service.vouchers.service import IssuedVoucher


def _common(application: Application, programme: Programme, status_url: str) -> dict[str, Any]:
    return {
        "programme_name": programme.name,
        "programme_contact": programme.contact_email,
        "company_name": application.company_name,
        "contact_name": application.contact_name or "Madame, Monsieur",
        "status_url": status_url,
        "reference": f"MCD-{application.id:06d}",
    }


def _reasons(application: Application, outcomes: tuple[str, ...]) -> list[str]:
    rules = application.eligibility.get("rules", [])
    return [rule["reason"] for rule in rules if rule.get("outcome") in outcomes]


async def tell_submitted(
    session: AsyncSession,
    application: Application,
    programme: Programme,
    settings: Settings,
    status_url: str,
) -> None:
    """Received, waiting for review, or refused at once with the rules that failed."""
    if not application.email:
        return
    data = _common(application, programme, status_url)
    if application.status is ApplicationStatus.needs_review:
        data["reasons"] = _reasons(application, ("unknown", "fail"))
        await notifications.enqueue(session, "application_needs_review", application.email, data)
    elif application.status is ApplicationStatus.ineligible:
        data["reason"] = " ".join(_reasons(application, ("fail",)))
        await notifications.enqueue(session, "application_rejected", application.email, data)
    else:
        await notifications.enqueue(session, "application_received", application.email, data)


async def tell_approved(
    session: AsyncSession,
    application: Application,
    programme: Programme,
    issued: IssuedVoucher,
    settings: Settings,
    status_url: str,
) -> None:
    if not application.email:
        return
    pdf = await vouchers.render_pdf(issued.voucher, programme, settings)
    data = {
        **_common(application, programme, status_url),
        "voucher_code": issued.code,
        "amount_cents": issued.voucher.amount_cents,
        "valid_until": issued.voucher.valid_until,
    }
    attachment = Attachment(f"cheque-{issued.code}.pdf", "application/pdf", pdf)
    await notifications.enqueue(
        session, "application_approved", application.email, data, [attachment]
    )


async def tell_rejected(
    session: AsyncSession,
    application: Application,
    programme: Programme,
    settings: Settings,
    status_url: str,
    reason: str,
) -> None:
    if not application.email:
        return
    data = {**_common(application, programme, status_url), "reason": reason}
    await notifications.enqueue(session, "application_rejected", application.email, data)


async def tell_correction_requested(
    session: AsyncSession,
    application: Application,
    programme: Programme,
    status_url: str,
    request: str,
) -> None:
    """What staff need, and the status page where to answer."""
    if not application.email:
        return
    data = {**_common(application, programme, status_url), "request": request}
    await notifications.enqueue(
        session, "application_correction_requested", application.email, data
    )


async def tell_status_link(
    session: AsyncSession, application: Application, programme: Programme, status_url: str
) -> None:
    """The status link again, to the e-mail the application was made with."""
    if not application.email:
        return
    data = {**_common(application, programme, status_url), "created_at": application.created_at}
    await notifications.enqueue(session, "status_link", application.email, data)


REMINDER_DAYS = 7


async def remind_expiring(session: AsyncSession, today: date, settings: Settings) -> int:
    """Tell beneficiaries, once, that an unused cheque expires within a week."""
    query = (
        select(Voucher, Application, Programme)
        .join(Application, col(Application.id) == col(Voucher.application_id))
        .join(Programme, col(Programme.id) == col(Voucher.programme_id))
        .where(
            col(Voucher.status).in_(SPENDABLE),
            col(Voucher.valid_until) >= today,
            col(Voucher.valid_until) <= today + timedelta(days=REMINDER_DAYS),
        )
    )
    sent = 0
    for voucher, application, programme in (await session.execute(query)).all():
        if not application.email:
            continue
        data = {
            **_common(application, programme, status_url(settings, application)),
            "voucher_code": voucher.code,
            "valid_until": voucher.valid_until,
            "balance_cents": voucher.balance_cents,
        }
        queued = await notifications.enqueue(
            session,
            "voucher_expiring",
            application.email,
            data,
            dedupe_key=f"voucher-expiring:{voucher.id}",
        )
        sent += queued is not None
    return sent
