"""When a cheque is valid: whole days in Europe/Paris, the last one included."""

from datetime import date, datetime, timedelta

from voucher_service.core.clock import PARIS, end_of_paris_day


def validity_period(first_day: date, days: int) -> tuple[date, date]:
    """``days`` calendar days counted from ``first_day`` included."""
    return first_day, first_day + timedelta(days=days - 1)


def end_of_validity(valid_until: date) -> datetime:
    """The instant a cheque stops being valid: midnight in Paris after its last day, in UTC
    (22:00 or 23:00 UTC depending on daylight saving)."""
    return end_of_paris_day(valid_until)


def last_valid_day(ends_at: datetime) -> date:
    """The last day a cheque is valid, from the instant it stops being valid (the inverse of
    :func:`end_of_validity`): the Paris day of the last second before that instant."""
    return (ends_at - timedelta(seconds=1)).astimezone(PARIS).date()
