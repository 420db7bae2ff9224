"""Input types that accept only what the API documents (JSON Schema's view, not Python's
lax coercions): a date is an ISO string, never a number; an integer is never a boolean."""

from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, StrictInt


def _iso_string(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("une date au format AAAA-MM-JJ est attendue")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_string)]

__all__ = ["IsoDate", "StrictInt"]
