"""The cheque as an A4 PDF: a Jinja2 template (French) rendered by WeasyPrint.

The font configuration and the compiled stylesheet are built once per process and reused;
renders are serialised by a lock, since WeasyPrint shares them across calls.
"""

import base64
import io
import threading
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from PIL import Image
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from voucher_service.core.config import Settings
from voucher_service.core.formatting import FILTERS, spaced_siret
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import qr
from voucher_service.vouchers.models import Voucher
from voucher_service.vouchers.validity import end_of_validity

TEMPLATES = Path(__file__).parent / "templates"
PIXELS_PER_MODULE = 4

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
templates.filters.update(FILTERS)
_render_lock = threading.Lock()


@lru_cache(maxsize=1)
def weasyprint_setup() -> tuple[FontConfiguration, CSS]:
    """Fonts and the compiled stylesheet, shared by every render of this process."""
    fonts = FontConfiguration()
    return fonts, CSS(filename=str(TEMPLATES / "voucher.css"), font_config=fonts)


def qr_data_uri(text: str) -> str:
    """The QR code (`qr.modules`) as a black and white PNG in a data: URI, at four pixels
    per module. The stylesheet asks for pixelated scaling (no interpolation in the PDF), so
    modules stay sharp at any print resolution; more pixels only cost render time (ten per
    module made the render half as slow again)."""
    rows = qr.modules(text)
    size = len(rows)
    image = Image.new("1", (size, size), 1)
    image.putdata([0 if dark else 1 for row in rows for dark in row])
    image = image.resize((size * PIXELS_PER_MODULE,) * 2, Image.Resampling.NEAREST)
    png = io.BytesIO()
    image.save(png, format="PNG")
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")


def html_of(voucher: Voucher, programme: Programme, settings: Settings) -> str:
    return templates.get_template("voucher.html").render(
        voucher=voucher,
        programme=programme,
        siret=spaced_siret(voucher.siret),
        qr=qr_data_uri(qr.redemption_url(settings, voucher.token)),
        ends_at=end_of_validity(voucher.valid_until),
        public_url=settings.public_url.rstrip("/"),
    )


def render(voucher: Voucher, programme: Programme, settings: Settings) -> bytes:
    return write_pdf(html_of(voucher, programme, settings))


def write_pdf(html: str) -> bytes:
    fonts, stylesheet = weasyprint_setup()
    with _render_lock:
        document = HTML(string=html, base_url=str(TEMPLATES))
        return document.write_pdf(stylesheets=[stylesheet], font_config=fonts) or b""
