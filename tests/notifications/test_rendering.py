"""Every event has French templates that render completely, and fail loudly on a gap."""

from datetime import UTC, date, datetime

import pytest
from jinja2 import UndefinedError

from notifications import payload, rendering
from tests.notifications.samples import SAMPLES, sample

LEFTOVERS = ("{{", "}}", "{%", "%}", "{#")


class TestTemplates:
    def test_every_event_has_a_sample(self) -> None:
        assert set(SAMPLES) == rendering.EVENTS

    @pytest.mark.parametrize("event", sorted(SAMPLES))
    def test_renders_completely_in_french(self, event: str) -> None:
        message = rendering.render(event, payload.decode(payload.encode(sample(event))))
        for part in (message.subject, message.text, message.html):
            assert not any(leftover in part for leftover in LEFTOVERS), part
        assert message.subject and "\n" not in message.subject
        assert message.text.startswith("Bonjour ")
        assert '<html lang="fr">' in message.html
        for footer in ("Mon coach digital 2027", "moncoachdigital@maregionsud.fr", "Région Sud"):
            assert footer in message.text and footer in message.html

    def test_money_dates_and_links_are_french(self) -> None:
        message = rendering.render("application_approved", sample("application_approved"))
        assert "2\u202f000,00\u00a0€" in message.subject
        assert "30/09/2027" in message.text
        assert 'href="http://testserver/status/4f1c2b9e8d7a"' in message.html

    def test_times_are_shown_in_paris(self) -> None:
        message = rendering.render("redemption_receipt", sample("redemption_receipt"))
        assert "14/03/2027 à 10:30" in message.text

    def test_html_is_escaped_and_text_is_not(self) -> None:
        data = sample("application_rejected", company_name="<b>Dupont & Fils</b>")
        message = rendering.render("application_rejected", data)
        assert "&lt;b&gt;Dupont &amp; Fils&lt;/b&gt;" in message.html
        assert "<b>Dupont & Fils</b>" in message.text

    def test_a_missing_key_fails_loudly(self) -> None:
        data = sample("application_approved")
        del data["voucher_code"]
        with pytest.raises(UndefinedError):
            rendering.render("application_approved", data)


class TestPayload:
    def test_dates_and_datetimes_survive_json(self) -> None:
        data = {"on": date(2027, 1, 2), "at": datetime(2027, 1, 2, 3, 4, tzinfo=UTC), "n": [1]}
        assert payload.decode(payload.encode(data)) == data

    def test_naive_datetimes_and_unknown_types_are_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            payload.encode({"at": datetime(2027, 1, 2)})
        with pytest.raises(TypeError):
            payload.encode({"raw": b"bytes"})
