import re
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from experts.schemas import valid_bic, valid_iban, valid_siret
from voucher_service.core.formatting import euros, french_date, number_refusal, paris_datetime


def test_euros_in_french() -> None:
    assert euros(200000) == "2\u202f000,00\u00a0€"
    assert euros(5) == "0,05\u00a0€"
    assert euros(-123456) == "-1\u202f234,56\u00a0€"


def test_paris_time_across_daylight_saving() -> None:
    assert paris_datetime(datetime(2027, 1, 15, 12, 0, tzinfo=UTC)) == "15/01/2027 à 13:00"
    assert paris_datetime(datetime(2027, 7, 15, 12, 0, tzinfo=UTC)) == "15/07/2027 à 14:00"
    assert french_date(date(2027, 3, 1)) == "01/03/2027"


@pytest.mark.parametrize(
    ("validate", "value", "reason"),
    [
        (valid_iban, "FR1420041010050500013M02607", "la clé de contrôle ne correspond pas"),
        (valid_bic, "XXXXXXXX", "une partie du numéro n'existe pas"),
        (valid_bic, "PSST", "le nombre de caractères n'est pas le bon"),
        (valid_siret, "1234567890123X", "il contient des caractères inattendus"),
        (valid_siret, "12345678901234", "la clé de contrôle ne correspond pas"),
    ],
)
def test_a_wrong_number_is_explained_in_french(
    validate: Callable[[str], str], value: str, reason: str
) -> None:
    """python-stdnum's English reasons ("The number's checksum or check digit is invalid.")
    never reach a person: each kind of refusal has its French sentence."""
    with pytest.raises(ValueError, match="invalide : ") as refused:
        validate(value)
    assert reason in str(refused.value)
    assert not re.search(r"\b(the|number|invalid|is)\b", str(refused.value), re.IGNORECASE)


def test_every_kind_of_stdnum_refusal_has_a_french_reason() -> None:
    for kind in (InvalidChecksum, InvalidLength, InvalidFormat, InvalidComponent):
        assert "numéro inconnu" not in number_refusal("IBAN", kind())
