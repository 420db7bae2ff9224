"""The cheque's QR code, one drawing for the PDF and the status page: error correction M,
a 4-module quiet zone, and what it says is the expert's confirm page for the token."""

import qrcode

from voucher_service.core.config import Settings


def redemption_url(settings: Settings, token: str) -> str:
    """What the QR says: the expert's confirm page for that token."""
    return f"{settings.public_url.rstrip('/')}/r/{token}"


def modules(text: str) -> list[list[bool]]:
    """The QR's modules, quiet zone included, row by row (True is dark)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def svg(text: str, label: str) -> str:
    """The QR as inline SVG markup: one path of unit squares on a white square, scaled by
    the page without blurring (crisp edges). ``label`` is its accessible name."""
    rows = modules(text)
    size = len(rows)
    path = "".join(
        f"M{x} {y}h{length}v1h-{length}z" for y, row in enumerate(rows) for x, length in _runs(row)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'role="img" aria-label="{_attribute(label)}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>'
    )


def _runs(row: list[bool]) -> list[tuple[int, int]]:
    """Where each run of dark modules of a row starts, and how long it is."""
    runs: list[tuple[int, int]] = []
    for x, dark in enumerate(row):
        if dark and runs and sum(runs[-1]) == x:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        elif dark:
            runs.append((x, 1))
    return runs


def _attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
