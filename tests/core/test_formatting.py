from datetime import UTC, date, datetime

from voucher_service.core.formatting import euros, french_date, paris_datetime


def test_euros_in_french() -> None:
    assert euros(200000) == "2\u202f000,00\u00a0€"
    assert euros(5) == "0,05\u00a0€"
    assert euros(-123456) == "-1\u202f234,56\u00a0€"


def test_paris_time_across_daylight_saving() -> None:
    assert paris_datetime(datetime(2027, 1, 15, 12, 0, tzinfo=UTC)) == "15/01/2027 à 13:00"
    assert paris_datetime(datetime(2027, 7, 15, 12, 0, tzinfo=UTC)) == "15/07/2027 à 14:00"
    assert french_date(date(2027, 3, 1)) == "01/03/2027"
