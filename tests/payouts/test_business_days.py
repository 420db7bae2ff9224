"""The requested execution date of a SEPA file: TARGET2 business days and the cut-off,
checked at explicit instants so that no test depends on the hour it runs."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voucher_service.core.clock import PARIS
from voucher_service.payouts.business_days import (
    easter_sunday,
    is_business_day,
    next_business_day,
    requested_execution_date,
)

CUTOFF = 14


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    "easter",
    [
        date(2000, 4, 23),
        date(2019, 4, 21),
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2027, 3, 28),
        date(2038, 4, 25),
        date(2285, 3, 22),
    ],
)
def test_easter_sunday(easter: date) -> None:
    assert easter_sunday(easter.year) == easter


@pytest.mark.parametrize(
    "closed",
    [
        date(2027, 1, 1),
        date(2027, 3, 26),  # Good Friday
        date(2027, 3, 29),  # Easter Monday
        date(2027, 5, 1),
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 6, 5),  # a Saturday
        date(2027, 6, 6),
    ],
)
def test_target2_closing_days(closed: date) -> None:
    assert not is_business_day(closed)


def test_french_holidays_are_business_days() -> None:
    # 14 July, 15 August 2027 falls on a Sunday: 11 November instead; Ascension Thursday
    for day in (date(2027, 7, 14), date(2027, 11, 11), date(2027, 5, 6)):
        assert is_business_day(day)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # Wednesday 2 June 2027 (summer time): 11:59 and 13:59:59 in Paris, then 14:00
        (utc(2027, 6, 2, 9, 59), date(2027, 6, 2)),
        (utc(2027, 6, 2, 11, 59, 59), date(2027, 6, 2)),
        (utc(2027, 6, 2, 12, 0), date(2027, 6, 3)),
        # Friday 23:30 UTC is already Saturday in Paris: Monday
        (utc(2027, 6, 4, 23, 30), date(2027, 6, 7)),
        (utc(2027, 6, 4, 13, 0), date(2027, 6, 7)),
        (utc(2027, 6, 5, 9, 0), date(2027, 6, 7)),
        # Easter 2027: Maundy Thursday after the cut-off, Good Friday, Easter Monday
        (utc(2027, 3, 25, 14, 0), date(2027, 3, 30)),
        (utc(2027, 3, 26, 8, 0), date(2027, 3, 30)),
        (utc(2027, 3, 29, 8, 0), date(2027, 3, 30)),
        # Christmas and New Year 2026
        (utc(2026, 12, 24, 9, 0), date(2026, 12, 24)),
        (utc(2026, 12, 24, 15, 0), date(2026, 12, 28)),
        (utc(2026, 12, 31, 23, 30), date(2027, 1, 4)),
        # 12:30 UTC is 14:30 in Paris in summer time (Friday 23 October 2026), 13:30 in
        # winter time (Monday 26 October 2026, the day after the change)
        (utc(2026, 10, 23, 12, 30), date(2026, 10, 26)),
        (utc(2026, 10, 26, 12, 30), date(2026, 10, 26)),
        # 22:30 UTC: Saturday 00:30 in summer time, still Monday 23:30 in winter time
        (utc(2026, 10, 23, 22, 30), date(2026, 10, 26)),
        (utc(2026, 10, 26, 22, 30), date(2026, 10, 27)),
        # the spring change, on Sunday 28 March 2027, which is also Easter Sunday
        (utc(2027, 3, 28, 0, 30), date(2027, 3, 30)),
    ],
)
def test_requested_execution_date(instant: datetime, expected: date) -> None:
    assert requested_execution_date(instant, CUTOFF) == expected


def test_a_cut_off_at_midnight_never_asks_for_the_same_day() -> None:
    assert requested_execution_date(utc(2027, 6, 1, 22, 0), 0) == date(2027, 6, 3)
    assert requested_execution_date(utc(2027, 6, 1, 22, 0), 23) == date(2027, 6, 2)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=0, max_value=23),
)
def test_never_a_past_day_always_a_business_day(instant: datetime, cutoff: int) -> None:
    aware = instant.replace(tzinfo=UTC)
    today = aware.astimezone(PARIS).date()
    execution = requested_execution_date(aware, cutoff)
    assert is_business_day(execution)
    assert today <= execution <= today + timedelta(days=5)
    assert execution == today or execution == next_business_day(today)
