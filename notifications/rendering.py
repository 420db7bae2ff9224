"""French e-mail templates: a subject, a plain-text part and an HTML part per event.

A missing template key raises at render time (``StrictUndefined``), so that a message is
never sent with a hole in it; HTML is autoescaped, plain text is not.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from voucher_service.core.formatting import FILTERS

TEMPLATES = Path(__file__).parent / "templates"
SUBJECT, TEXT, HTML = "subject.txt", "body.txt", "body.html"
_LINE_BREAKS = re.compile(r"[ \t\r\n]+")  # not str.split(): it would eat no-break spaces

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
_env.filters.update(FILTERS)

EVENTS = frozenset(
    folder.name
    for folder in TEMPLATES.iterdir()
    if folder.is_dir() and all((folder / part).is_file() for part in (SUBJECT, TEXT, HTML))
)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


def has_template(event: str) -> bool:
    return event in EVENTS


def render(event: str, data: dict[str, Any]) -> RenderedMessage:
    """Raises ``jinja2.UndefinedError`` when ``data`` lacks a key a template uses."""
    subject = _LINE_BREAKS.sub(" ", _env.get_template(f"{event}/{SUBJECT}").render(data)).strip()
    return RenderedMessage(
        subject=subject,
        text=_env.get_template(f"{event}/{TEXT}").render(data).strip() + "\n",
        html=_env.get_template(f"{event}/{HTML}").render({**data, "subject": subject}),
    )
