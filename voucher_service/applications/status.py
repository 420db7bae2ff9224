"""What the applicant's status link opens: the application, its programme and, once
approved, its cheque with the PDF that the approval e-mail carries."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.applications import service
from voucher_service.applications.errors import ChequeNotIssued
from voucher_service.applications.models import Application
from voucher_service.core.config import Settings
from voucher_service.programmes import service as programmes_service
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import service as vouchers_service
from voucher_service.vouchers.models import Voucher


@dataclass(frozen=True, slots=True)
class Status:
    application: Application
    programme: Programme
    cheque: Voucher | None  # None until the application is approved


@dataclass(frozen=True, slots=True)
class ChequePdf:
    filename: str
    content: bytes


async def status_of(session: AsyncSession, token: str) -> Status:
    """Where the application of this status link stands; ApplicationNotFound."""
    application = await service.by_status_token(session, token)
    assert application.id is not None
    programme = await programmes_service.get(session, application.programme_id)
    cheque = await vouchers_service.for_application(session, application.id)
    return Status(application, programme, cheque)


async def cheque_pdf(session: AsyncSession, token: str, settings: Settings) -> ChequePdf:
    """The cheque's PDF, the same as the approval e-mail's; ApplicationNotFound, or
    ChequeNotIssued while there is no cheque."""
    status = await status_of(session, token)
    if status.cheque is None:
        raise ChequeNotIssued("Le chèque sera disponible ici dès que la demande sera acceptée.")
    content = await vouchers_service.render_pdf(status.cheque, status.programme, settings)
    return ChequePdf(f"cheque-{status.cheque.code}.pdf", content)
