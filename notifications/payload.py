"""Template data stored as JSON: dates and datetimes keep their type through the outbox,
so that the templates' ``french_date`` and ``paris_datetime`` filters get what they expect."""

from datetime import date, datetime
from typing import Any

DATE, DATETIME = "$date", "$datetime"


def encode(value: Any) -> Any:
    """JSON-ready data; anything JSON cannot hold faithfully is refused at enqueue time."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: use UTC-aware datetimes")
        return {DATETIME: value.isoformat()}
    if isinstance(value, date):
        return {DATE: value.isoformat()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: encode(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} cannot be stored in a notification's data")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {DATETIME}:
        return datetime.fromisoformat(value[DATETIME])
    if value.keys() == {DATE}:
        return date.fromisoformat(value[DATE])
    return {key: decode(item) for key, item in value.items()}
