"""The export files as streamed downloads, for the API and the accounting page alike."""

from collections.abc import AsyncIterator
from datetime import date

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core.config import Settings
from voucher_service.core.formatting import french_date
from voucher_service.payouts import batches, exports
from voucher_service.payouts.errors import InvalidPeriod
from voucher_service.payouts.fec import FEC_ENCODING, fec_filename

MAX_PERIOD_DAYS = 3660  # ten years and a few days: a fiscal year may be long
# Days an export can be asked for: the service's own era, and dates whose Paris midnight
# still converts to UTC (year 1 and 9999 overflow).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def check_period(start: date, end: date) -> None:
    """The one rule for an export's period: the API, the page and the command line call it."""
    if not (FIRST_DAY <= start <= LAST_DAY and FIRST_DAY <= end <= LAST_DAY):
        raise InvalidPeriod(
            f"Les dates doivent être comprises entre le {french_date(FIRST_DAY)} "
            f"et le {french_date(LAST_DAY)}."
        )
    period = f"du {french_date(start)} au {french_date(end)}"
    if end < start:
        raise InvalidPeriod(f"La date de début doit précéder la date de fin ({period}).")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidPeriod(
            f"Période de plus de dix ans ({period}) : choisissez une période plus courte."
        )


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def sepa_file(session: AsyncSession, batch_id: int, settings: Settings) -> Response:
    """An exported batch's pain.001 file, read only: every download is the same file."""
    document = await batches.sepa_file(session, batch_id, settings)
    return Response(
        document,
        media_type="application/xml",
        headers=_attachment(f"virements-lot-{batch_id}.xml"),
    )


def reconciliation_filename(start: date, end: date) -> str:
    return f"rapprochement-{start.isoformat()}-{end.isoformat()}.csv"


def reconciliation(session: AsyncSession, start: date, end: date) -> StreamingResponse:
    check_period(start, end)
    return StreamingResponse(
        exports.reconciliation_csv(session, start, end),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(reconciliation_filename(start, end)),
    )


def fec(session: AsyncSession, start: date, end: date, settings: Settings) -> StreamingResponse:
    check_period(start, end)

    async def encoded() -> AsyncIterator[bytes]:
        async for text in exports.fec_text(session, start, end, settings):
            yield text.encode(FEC_ENCODING)

    return StreamingResponse(
        encoded(),
        media_type=f"text/plain; charset={FEC_ENCODING}",
        headers=_attachment(fec_filename(settings.payout_siren, end)),
    )
