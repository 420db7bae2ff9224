"""Validity in whole Paris days: the day at an instant, the period, the instant it ends."""

from datetime import UTC, date, datetime, timedelta

from voucher_service.core.clock import PARIS, paris_today, utcnow
from voucher_service.vouchers.validity import (
    end_of_validity,
    last_valid_day,
    validity_period,
)


class TestParisToday:
    def test_the_day_changes_at_midnight_in_paris(self) -> None:
        summer = datetime(2026, 7, 1, 21, 59, 59, tzinfo=UTC)  # 23:59:59 in Paris (UTC+2)
        assert paris_today(summer) == date(2026, 7, 1)
        assert paris_today(summer + timedelta(seconds=1)) == date(2026, 7, 2)
        winter = datetime(2026, 1, 1, 22, 59, 59, tzinfo=UTC)  # 23:59:59 in Paris (UTC+1)
        assert paris_today(winter) == date(2026, 1, 1)
        assert paris_today(winter + timedelta(seconds=1)) == date(2026, 1, 2)

    def test_now_by_default(self) -> None:
        before = utcnow().astimezone(PARIS).date()
        today = paris_today()
        assert before <= today <= utcnow().astimezone(PARIS).date()


class TestPeriod:
    def test_the_first_and_last_days_are_included(self) -> None:
        assert validity_period(date(2026, 3, 1), 30) == (date(2026, 3, 1), date(2026, 3, 30))
        assert validity_period(date(2026, 12, 15), 365) == (date(2026, 12, 15), date(2027, 12, 14))
        assert validity_period(date(2026, 3, 1), 1) == (date(2026, 3, 1), date(2026, 3, 1))


class TestEnd:
    def test_midnight_in_paris_after_the_last_day(self) -> None:
        assert end_of_validity(date(2026, 7, 14)) == datetime(2026, 7, 14, 22, tzinfo=UTC)
        assert end_of_validity(date(2026, 12, 31)) == datetime(2026, 12, 31, 23, tzinfo=UTC)
        # The clocks go forward in the night of 28 to 29 March 2026 (at 02:00).
        assert end_of_validity(date(2026, 3, 28)) == datetime(2026, 3, 28, 23, tzinfo=UTC)
        assert end_of_validity(date(2026, 3, 29)) == datetime(2026, 3, 29, 22, tzinfo=UTC)
        assert end_of_validity(date(2026, 7, 14)).tzinfo == UTC

    def test_the_last_valid_day_is_that_of_the_last_second(self) -> None:
        end = datetime(2026, 7, 14, 22, tzinfo=UTC)
        assert last_valid_day(end) == date(2026, 7, 14)
        # One second later, the last second before it is midnight: the 15th already.
        assert last_valid_day(end + timedelta(seconds=1)) == date(2026, 7, 15)
        assert last_valid_day(datetime(2026, 3, 29, 22, tzinfo=UTC)) == date(2026, 3, 29)
