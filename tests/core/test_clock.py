"""One clock for the service and its tests: days are Paris days at every hour of UTC, and a
run shifted to another hour (MCD_TEST_CLOCK) shifts every process it starts."""

import re
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from tests.fixtures.clock import instant
from tests.fixtures.servers import LiveServer
from voucher_service.core.clock import PARIS, end_of_paris_day, paris_today, utcnow


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        ("2026-12-01T22:59:59+00:00", date(2026, 12, 1)),
        ("2026-12-01T23:00:00+00:00", date(2026, 12, 2)),
        ("2026-12-01T23:30:00+00:00", date(2026, 12, 2)),
        ("2027-07-01T21:59:59+00:00", date(2027, 7, 1)),
        ("2027-07-01T22:30:00+00:00", date(2027, 7, 2)),
        ("2027-03-28T00:59:59+00:00", date(2027, 3, 28)),
        ("2027-10-31T00:30:00+00:00", date(2027, 10, 31)),
    ],
)
def test_the_day_is_the_paris_day_whatever_the_hour_in_utc(moment: str, day: date) -> None:
    assert paris_today(at(moment)) == day


def test_a_paris_day_ends_at_paris_midnight_and_lasts_23_or_25_hours_on_changes() -> None:
    assert end_of_paris_day(date(2026, 12, 1)) == at("2026-12-01T23:00:00+00:00")
    assert end_of_paris_day(date(2027, 7, 1)) == at("2027-07-01T22:00:00+00:00")
    spring, autumn = date(2027, 3, 28), date(2027, 10, 31)
    one_day = timedelta(days=1)
    assert end_of_paris_day(spring) - end_of_paris_day(spring - one_day) == timedelta(hours=23)
    assert end_of_paris_day(autumn) - end_of_paris_day(autumn - one_day) == timedelta(hours=25)
    assert end_of_paris_day(spring).tzinfo is UTC


NOW = at("2026-12-01T21:40:00+00:00")


def test_the_late_evening_is_when_utc_and_paris_disagree_on_the_day() -> None:
    late = instant("late-evening", NOW)
    assert late == at("2026-12-01T23:30:00+00:00")
    assert paris_today(late) == late.date() + timedelta(days=1)
    summer = instant("summer-evening", NOW)
    assert summer > NOW and summer.astimezone(PARIS).dst()
    assert summer.hour == 22 and paris_today(summer) == summer.date() + timedelta(days=1)


def offset(moment: datetime) -> timedelta | None:
    return moment.astimezone(PARIS).utcoffset()


@pytest.mark.parametrize(
    ("name", "before", "after"), [("spring-forward", 1, 2), ("fall-back", 2, 1)]
)
def test_a_run_shifted_to_a_change_crosses_it_minutes_later(
    name: str, before: int, after: int
) -> None:
    start = instant(name, NOW)
    assert NOW < start < NOW + timedelta(days=366)
    assert offset(start) == timedelta(hours=before)
    assert offset(start + timedelta(minutes=6)) == timedelta(hours=after)


def test_an_instant_without_its_offset_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ValueError, match="MCD_TEST_CLOCK"):
        instant("2027-03-28T00:55:00", NOW)
    assert instant("2027-03-28T00:55:00Z", NOW) == at("2027-03-28T00:55:00+00:00")


async def test_the_served_service_runs_on_the_same_clock_as_the_tests(
    live_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        answer = await client.get("/healthz")
    served_at = parsedate_to_datetime(answer.headers["date"])
    assert abs(served_at - utcnow()) < timedelta(seconds=5)


ROOT = Path(__file__).parents[2]
CLOCK_CALLS = re.compile(r"\b(date\.today|datetime\.(now|utcnow|today))\(")


def test_no_code_reads_the_clock_but_the_clock_module() -> None:
    """A day read anywhere else would be the UTC day of the machine, not the Paris day."""
    # The clock itself, and the fixture that reads the real hour to shift the clock from it.
    allowed = {ROOT / "voucher_service/core/clock.py", ROOT / "tests/fixtures/clock.py"}
    sources = [
        path
        for folder in ("voucher_service", "experts", "notifications", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path not in allowed
    ]
    readers = [str(p.relative_to(ROOT)) for p in sources if CLOCK_CALLS.search(p.read_text())]
    assert len(sources) > 100 and readers == []
