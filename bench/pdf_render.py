"""Cheque PDF rendering and issuance speed, against baselines measured in the same run.

    .venv/bin/python bench/pdf_render.py [--renders 30] [--issues 300]

Prints the median time to render one cheque PDF (WeasyPrint set-up reused, as in the
service), the time of a plain one-paragraph WeasyPrint page rendered alongside and their
ratio; then bulk rendering, one process against the worker pool (`MCD_PDF_WORKERS`,
one per core); then cheques issued per second (each with its signed token, in SQLite
transactions of 50, audit included), and Ed25519 signatures per second on their own.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from pydantic import SecretStr
from weasyprint import HTML

from voucher_service.core import schema
from voucher_service.core.config import Environment, Settings
from voucher_service.core.db import Database
from voucher_service.programmes import service as programme_service
from voucher_service.programmes.models import Programme
from voucher_service.programmes.schemas import ProgrammeCreate
from voucher_service.vouchers import keys, pdf, service, tokens

PLAIN_PAGE = "<h1>Chèque</h1><p>Une page ordinaire, un paragraphe de texte.</p>"
BATCH = 50


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def programme_body() -> ProgrammeCreate:
    return ProgrammeCreate(
        name="Banc d'essai",
        cheque_amount_cents=200_000,
        budget_cents=100_000_000_000,
        opens_on=date(2027, 1, 1),
        closes_on=date(2027, 12, 31),
        cheque_validity_days=180,
        departments=["13"],
        max_headcount=19,
        max_turnover_eur=2_000_000,
        themes=["cybersecurity"],
    )


async def issue_many(
    settings: Settings, count: int
) -> tuple[float, service.IssuedVoucher, Programme]:
    """Seconds to issue ``count`` cheques, and one of them with its programme to render."""
    database = Database.from_settings(settings)
    await schema.upgrade(database.engine)
    async with database.sessionmaker() as session, session.begin():
        programme = await programme_service.create(session, programme_body())
        await keys.signer(session, settings)  # the first key, outside the measure
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        async with database.sessionmaker() as session, session.begin():
            for number in range(first, min(first + BATCH, count)):
                issued = await service.issue_voucher(
                    session,
                    programme,
                    application_id=number,
                    company_name="Atelier Calanques SARL",
                    siret="73282932000074",
                    beneficiary_email="elodie@example.fr",
                    settings=settings,
                )
    elapsed = time.perf_counter() - started
    await database.engine.dispose()
    return elapsed, issued, programme


def signatures_per_second(issued: service.IssuedVoucher) -> float:
    private_key = keys._private_keys[issued.voucher.key_id]
    claims = tokens.Claims(1, 200_000, 2_000_000_000, issued.voucher.key_id)
    count = 5_000
    started = time.perf_counter()
    for _ in range(count):
        tokens.sign(private_key, claims)
    return count / (time.perf_counter() - started)


async def pooled_renders_per_second(
    issued: service.IssuedVoucher, programme: Programme, settings: Settings, count: int
) -> float:
    warm_up = 2 * settings.pdf_workers  # every worker started and past its first render
    await asyncio.gather(
        *(service.render_pdf(issued.voucher, programme, settings) for _ in range(warm_up))
    )
    started = time.perf_counter()
    await asyncio.gather(
        *(service.render_pdf(issued.voucher, programme, settings) for _ in range(count))
    )
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--issues", type=int, default=300)
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mcd-bench-"))
    settings = Settings(
        _env_file=None,
        env=Environment.test,
        database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        secret_key=SecretStr("bench-secret-that-is-long-enough-0123456789"),
    )
    issue_seconds, issued, programme = asyncio.run(issue_many(settings, arguments.issues))
    fonts, _ = pdf.weasyprint_setup()
    pdf.render(issued.voucher, programme, settings)  # warm-up: fonts, stylesheet
    HTML(string=PLAIN_PAGE).write_pdf(font_config=fonts)
    cheque = median_seconds(
        lambda: pdf.render(issued.voucher, programme, settings), arguments.renders
    )
    plain = median_seconds(
        lambda: HTML(string=PLAIN_PAGE).write_pdf(font_config=fonts), arguments.renders
    )
    pooled = asyncio.run(
        pooled_renders_per_second(issued, programme, settings, 4 * arguments.renders)
    )
    rate = arguments.issues / issue_seconds
    print(f"cheque PDF render      {cheque * 1000:8.1f} ms (median of {arguments.renders})")
    print(f"plain WeasyPrint page  {plain * 1000:8.1f} ms")
    print(f"ratio cheque / plain   {cheque / plain:8.1f}")
    print(f"bulk, one process      {1 / cheque:8.1f} PDFs per second")
    print(f"bulk, {settings.pdf_workers} worker processes {pooled:6.1f} PDFs per second")
    print(f"ratio pool / one       {pooled * cheque:8.2f}")
    print(f"cheques issued         {rate:8.0f} per second (signed, audited, SQLite)")
    print(f"Ed25519 signatures     {signatures_per_second(issued):8.0f} per second")


if __name__ == "__main__":
    main()
