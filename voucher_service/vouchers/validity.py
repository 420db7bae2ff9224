"""When a cheque is valid: whole days in Europe/Paris, the last one included."""

from datetime import UTC, date, datetime, time, timedelta

from voucher_service.core.db import utcnow
from voucher_service.core.formatting import PARIS


def paris_today(now: datetime | None = None) -> date:
    """The calendar day in Paris at that instant (now by default)."""
    return (now or utcnow()).astimezone(PARIS).date()


def validity_period(first_day: date, days: int) -> tuple[date, date]:
    """``days`` calendar days counted from ``first_day`` included."""
    return first_day, first_day + timedelta(days=days - 1)


def end_of_validity(valid_until: date) -> datetime:
    """The instant a cheque stops being valid: midnight in Paris after its last day, in UTC
    (22:00 or 23:00 UTC depending on daylight saving)."""
    return datetime.combine(valid_until + timedelta(days=1), time(), tzinfo=PARIS).astimezone(UTC)


def last_valid_day(ends_at: datetime) -> date:
    """The last day a cheque is valid, from the instant it stops being valid (the inverse of
    :func:`end_of_validity`): the Paris day of the last second before that instant."""
    return (ends_at - timedelta(seconds=1)).astimezone(PARIS).date()
