"""The days SEPA credit transfers are executed: TARGET2 business days, and the requested
execution date of a file produced at a given instant.

TARGET2 (the euro area's settlement system, whose calendar SEPA transfers follow) is
closed on Saturdays, Sundays, 1 January, Good Friday, Easter Monday, 1 May, 25 and
26 December. French public holidays are not closing days.
"""

from datetime import date, datetime, timedelta

from voucher_service.core.clock import PARIS

FIXED_CLOSING_DAYS = frozenset({(1, 1), (5, 1), (12, 25), (12, 26)})


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous algorithm of Meeus, Jones and Butcher)."""
    golden = year % 19
    century, year_of_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    correction = (century + 8) // 25
    moon = (century - correction + 1) // 3
    epact = (19 * golden + century - leap_centuries - moon + 15) % 30
    quarter, year_rest = divmod(year_of_century, 4)
    weekday = (32 + 2 * century_rest + 2 * quarter - epact - year_rest) % 7
    shift = (golden + 11 * epact + 22 * weekday) // 451
    month, day = divmod(epact + weekday - 7 * shift + 114, 31)
    return date(year, month, day + 1)


def is_business_day(day: date) -> bool:
    """A day TARGET2 is open: a weekday other than its closing days."""
    if day.weekday() >= 5 or (day.month, day.day) in FIXED_CLOSING_DAYS:
        return False
    easter = easter_sunday(day.year)
    return day not in (easter - timedelta(days=2), easter + timedelta(days=1))


def next_business_day(day: date) -> date:
    """The first business day strictly after ``day``."""
    following = day + timedelta(days=1)
    while not is_business_day(following):
        following += timedelta(days=1)
    return following


def requested_execution_date(instant: datetime, cutoff_hour: int) -> date:
    """The execution date a file produced at ``instant`` asks for: that day in Paris when it
    is a business day and the hour (Paris) is before ``cutoff_hour``, else the next
    business day. Never a day before the instant's."""
    local = instant.astimezone(PARIS)
    today = local.date()
    if local.hour < cutoff_hour and is_business_day(today):
        return today
    return next_business_day(today)
