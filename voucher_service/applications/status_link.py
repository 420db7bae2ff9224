"""A lost status link sent again: to the e-mail of the applications made with that SIRET
and that e-mail, while the answer never tells whether there is one. Throttled per address
by core's throttle (429 with a delay that doubles), and per SIRET and e-mail (beyond the
limit nothing more is mailed, silently, and the answer stays the same)."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from voucher_service.applications import messages, repository
from voucher_service.applications.errors import TooManyStatusLinkRequests
from voucher_service.applications.links import status_url
from voucher_service.applications.models import StatusLinkRequest
from voucher_service.applications.schemas import StatusLinkAsk
from voucher_service.core.auth import throttle
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.db import Transaction
from voucher_service.programmes import service as programmes_service

WINDOW = timedelta(hours=1)
PER_ADDRESS = throttle.Limit(free=10, first=timedelta(minutes=1), longest=WINDOW)
MAILS_PER_APPLICANT = 3  # in the window, for one SIRET and e-mail
ANSWER = (
    "Si une demande a été déposée avec ce SIRET et cette adresse e-mail, son lien de suivi "
    "vient d'y être envoyé. Pensez à regarder dans vos courriers indésirables."
)


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """A recorded request, and how many were made for its SIRET and e-mail before it."""

    siret: str
    email: str
    earlier: int


def _applicant_key(settings: Settings, siret: str, email: str) -> str:
    """The SIRET and e-mail as a keyed hash: the request log holds no personal data."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"status-link:{siret}:{email}".encode(), hashlib.sha256).hexdigest()


async def _recent(
    session: AsyncSession, column: Mapped[str], value: str, since: datetime
) -> throttle.Failures:
    at = col(StatusLinkRequest.requested_at)
    query = select(func.count(), func.max(at)).where(column == value, at >= since)
    count, latest = (await session.execute(query)).one()
    return throttle.Failures(count, latest)


async def request_link(
    session: AsyncSession, settings: Settings, body: StatusLinkAsk, address: str
) -> LinkRequest:
    """Record the request, the same work whatever matches, so that neither the answer nor
    its time tells anything; the e-mail is queued after the answer (`mail_link`)."""
    await throttle.queue_on(session, f"status-link-address:{address}")
    since = utcnow() - WINDOW
    from_address = await _recent(session, col(StatusLinkRequest.address), address, since)
    opens_at = PER_ADDRESS.open_at(from_address)
    if opens_at is not None:
        what = "Trop de demandes de lien de suivi depuis votre adresse."
        throttle.refuse_until(opens_at, TooManyStatusLinkRequests, what)
    key = _applicant_key(settings, body.siret, body.email)
    earlier = await _recent(session, col(StatusLinkRequest.key_hash), key, since)
    session.add(StatusLinkRequest(key_hash=key, address=address))
    await session.flush()
    return LinkRequest(body.siret, body.email, earlier.count)


async def mail_link(session: AsyncSession, settings: Settings, asked: LinkRequest) -> None:
    """Queue the status link of every application made with that SIRET and e-mail,
    unless the limit per SIRET and e-mail was reached before this request."""
    if asked.earlier >= MAILS_PER_APPLICANT:
        return
    for application in await repository.by_siret_and_email(session, asked.siret, asked.email):
        programme = await programmes_service.get(session, application.programme_id)
        url = status_url(settings, application)
        await messages.tell_status_link(session, application, programme, url)


async def mail_link_after_answer(
    transaction: Transaction, settings: Settings, asked: LinkRequest
) -> None:
    """`mail_link` in a transaction of its own, once the answer is sent."""
    async with transaction() as session:
        await mail_link(session, settings, asked)
