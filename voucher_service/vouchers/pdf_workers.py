"""Cheque PDFs rendered by a pool of worker processes.

WeasyPrint is CPU-bound Python: rendered in a thread of the server, a PDF would hold the
interpreter lock that the other requests need, and a burst of approvals would use one core.
The cheque and its programme are handed to a worker process (pickled, a few kilobytes),
which builds the QR code and the HTML and renders the PDF; ``MCD_PDF_WORKERS`` processes
render side by side.
"""

import asyncio
import contextlib
import multiprocessing
import os
import select
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from voucher_service.core.config import Settings
from voucher_service.programmes.models import Programme
from voucher_service.vouchers.models import Voucher

_pool: ProcessPoolExecutor | None = None


def _start_worker(server_pid: int) -> None:
    """Load WeasyPrint and the fonts before the first cheque, and leave when the server
    process is gone, however it ended: a killed server runs no clean-up. Ctrl-C, which the
    terminal sends to every process of the server, is the server's to handle: it stops the
    pool in its lifespan's end."""
    from voucher_service.vouchers import pdf

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pdf.weasyprint_setup()
    threading.Thread(target=_exit_with, args=(server_pid,), daemon=True).start()


def _exit_with(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        select.select([os.pidfd_open(pid)], [], [])
    os._exit(0)


def _executor(settings: Settings) -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=settings.pdf_workers,
            # A fresh interpreter per worker: never a fork of a running event loop.
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
    return _pool


async def render(voucher: Voucher, programme: Programme, settings: Settings) -> bytes:
    """The cheque as an A4 PDF, rendered in a worker process; a pool whose worker died
    is replaced once."""
    from voucher_service.vouchers import pdf

    loop = asyncio.get_running_loop()
    work = (voucher, programme, settings)
    try:
        return await loop.run_in_executor(_executor(settings), pdf.render, *work)
    except BrokenProcessPool:
        shutdown()
        return await loop.run_in_executor(_executor(settings), pdf.render, *work)


def shutdown() -> None:
    """Stop the workers (at the end of the server's lifespan)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
