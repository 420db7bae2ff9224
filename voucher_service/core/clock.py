"""The service's one clock: instants are aware UTC datetimes, days are Europe/Paris days.

Every "now" and "today" of the service comes from here, so that a programme's deadline, a
cheque's last valid day, a batch's cut-off and a ledger entry's date agree on which day it
is, whatever the hour in UTC and across both daylight-saving changes."""

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def utcnow() -> datetime:
    """This instant, aware, in UTC."""
    return datetime.now(UTC)


def seconds_until(instant: datetime) -> int:
    """Whole seconds from now until the instant, rounded up; at least 1 (a Retry-After)."""
    return max(1, math.ceil((instant - utcnow()).total_seconds()))


def paris_today(now: datetime | None = None) -> date:
    """The calendar day in Paris at that instant (now by default)."""
    return (now or utcnow()).astimezone(PARIS).date()


def end_of_paris_day(day: date) -> datetime:
    """The first instant after ``day`` in Paris, in UTC (22:00 or 23:00 UTC that evening,
    depending on daylight saving)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=PARIS).astimezone(UTC)
