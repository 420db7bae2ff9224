import string
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
import xmlschema
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree
from text_unidecode import unidecode

from voucher_service.payouts import sepa
from voucher_service.payouts.errors import InvalidSepaFile, InvalidTransfer
from voucher_service.payouts.sepa import (
    Debtor,
    Transfer,
    batch_message_id,
    build_credit_transfers,
    end_to_end_id,
    remittance_text,
    sepa_text,
)

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
REGION = Debtor(
    "Région Sud – Provence-Alpes-Côte d'Azur", "FR76 3000 6000 0112 3456 7890 189", "AGRIFRPPXXX"
)
CREATED_AT = datetime(2027, 2, 27, 8, 30, 15, tzinfo=UTC)
# Any character but control ones and line separators (refused, not cleaned) and lone
# surrogates
PRINTABLE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)
EPC_SET = set(string.ascii_letters + string.digits + "/-?:().,'+ ")
PAIN_001 = xmlschema.XMLSchema(str(resources.files("sepaxml") / "schemas" / "pain.001.001.03.xsd"))
EXECUTION = date(2027, 3, 1)


def transfers() -> list[Transfer]:
    return [
        Transfer(
            end_to_end_id(42, 7),
            "Société Générale Conseil",
            "FR1420041010050500013M02606",
            "PSSTFRPPMAR",
            200000,
            remittance_text(["FA-2027-001"], ["MCD-7K3Q-9XPA"]),
        ),
        Transfer(
            end_to_end_id(42, 8),
            "Hélène Müller-Lüdenscheidt Œnologie & Stratégie numérique très longue dénomination",
            "fr76 3000 1007 9412 3456 7890 185",
            "bdfefrpp",
            400050,
            remittance_text(["FA 12", "FA 13"], ["MCD-AAAA-1111", "MCD-BBBB-2222"]),
        ),
        Transfer(
            end_to_end_id(42, 9), "Ærø Straße", "DE89370400440532013000", "COBADEFFXXX", 1, "x"
        ),
    ]


def build(**overrides: object) -> bytes:
    arguments: dict[str, Any] = {
        "message_id": batch_message_id(42),
        "execution_date": EXECUTION,
        "created_at": CREATED_AT,
    } | overrides
    return build_credit_transfers(REGION, transfers(), **arguments)


def texts(document: bytes, path: str) -> list[str]:
    return [node.text or "" for node in etree.fromstring(document).iterfind(path, NS)]


class TestBuildCreditTransfers:
    def test_validates_against_the_iso_20022_schema(self) -> None:
        xsd = resources.files("sepaxml") / "schemas" / "pain.001.001.03.xsd"
        xmlschema.XMLSchema(str(xsd)).validate(build())

    def test_counts_and_control_sums_match_the_transfers(self) -> None:
        document = build()
        expected_sum = str(Decimal(sum(t.amount_cents for t in transfers())) / 100)
        for level in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
            assert texts(document, f"{level}/p:NbOfTxs") == ["3"]
            assert texts(document, f"{level}/p:CtrlSum") == [expected_sum]
        amounts = texts(document, ".//p:CdtTrfTxInf/p:Amt/p:InstdAmt")
        assert amounts == ["2000.00", "4000.50", "0.01"]

    def test_references_and_remittances_are_carried(self) -> None:
        document = build()
        assert texts(document, ".//p:EndToEndId") == [
            "MCD-B000042-E000007",
            "MCD-B000042-E000008",
            "MCD-B000042-E000009",
        ]
        assert texts(document, ".//p:RmtInf/p:Ustrd") == [
            "Facture FA-2027-001 - Cheque MCD-7K3Q-9XPA",
            "Factures FA 12, FA 13 - Cheques MCD-AAAA-1111, MCD-BBBB-2222",
            "x",
        ]

    def test_accounts_are_written_compact_and_upper_case(self) -> None:
        document = build()
        assert texts(document, ".//p:CdtrAcct/p:Id/p:IBAN")[1] == "FR7630001007941234567890185"
        assert texts(document, ".//p:CdtrAgt//p:BIC")[1] == "BDFEFRPP"
        assert texts(document, ".//p:DbtrAcct/p:Id/p:IBAN") == ["FR7630006000011234567890189"]

    def test_building_twice_is_byte_identical(self) -> None:
        assert build() == build()

    def test_ids_and_creation_time_are_the_callers(self) -> None:
        document = build()
        assert texts(document, ".//p:GrpHdr/p:MsgId") == ["MCD-BATCH-000042"]
        assert texts(document, ".//p:PmtInf/p:PmtInfId") == ["MCD-BATCH-000042"]
        assert texts(document, ".//p:GrpHdr/p:CreDtTm") == ["2027-02-27T09:30:15"]
        assert texts(document, ".//p:PmtInf/p:ReqdExctnDt") == ["2027-03-01"]
        assert texts(document, ".//p:PmtInf/p:BtchBookg") == ["true"]

    def test_only_the_creation_time_differs_between_two_days(self) -> None:
        later = build(created_at=datetime(2027, 2, 28, 8, 30, 15, tzinfo=UTC))
        assert later != build()
        assert later.replace(b"2027-02-28T09", b"2027-02-27T09") == build()

    def test_names_are_transliterated_as_predicted(self) -> None:
        document = build()
        names = texts(document, ".//p:Cdtr/p:Nm")
        assert names == [sepa_text(t.creditor_name, 70) for t in transfers()]
        assert names[0] == "Societe Generale Conseil"
        assert names[2] == "AEro Strasse"
        assert names[1].startswith("Helene Muller-Ludenscheidt OEnologie + Strategie")
        assert len(names[1]) <= 70
        assert texts(document, ".//p:Dbtr/p:Nm") == ["Region Sud - Provence-Alpes-Cote d'Azur"]

    def test_bad_iban_and_bic_are_refused_by_field(self) -> None:
        bad = Transfer("MCD-1", "Expert", "FR1420041010050500013M02607", "PSSTFRP", 100, "x")
        with pytest.raises(InvalidTransfer) as caught:
            build_credit_transfers(
                REGION, [bad], message_id="M", execution_date=EXECUTION, created_at=CREATED_AT
            )
        problem = caught.value.to_problem()
        assert problem["code"] == "invalid_transfer"
        assert [e["loc"] for e in problem["errors"]] == [
            ["transfers", 0, "iban"],
            ["transfers", 0, "bic"],
        ]

    def test_debtor_account_is_checked_too(self) -> None:
        with pytest.raises(InvalidTransfer) as caught:
            build_credit_transfers(
                Debtor("Région", "FR00", "AGRIFRPPXXX"),
                transfers(),
                message_id="M",
                execution_date=EXECUTION,
                created_at=CREATED_AT,
            )
        assert [e["loc"] for e in caught.value.extra["errors"]] == [["debtor", "iban"]]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("end_to_end_id", "MCD_B42"),
            ("end_to_end_id", "/MCD-B42"),
            ("end_to_end_id", "MCD//B42"),
            ("end_to_end_id", "M" * 36),
            ("end_to_end_id", ""),
            ("amount_cents", 0),
            ("amount_cents", -5),
            ("amount_cents", 12.5),
            ("amount_cents", True),
            ("remittance", "é" * 141),
            ("remittance", " "),
            ("creditor_name", "🙂"),
            ("creditor_name", "Conseil\nNumérique"),
            ("creditor_name", "Conseil\x0bNumérique"),
            ("remittance", "MCD-1\x00"),
        ],
    )
    def test_transfer_fields_outside_sepa_rules_are_refused(
        self, field: str, value: object
    ) -> None:
        fields: dict[str, Any] = {
            "end_to_end_id": "MCD-1",
            "creditor_name": "Expert",
            "iban": REGION.iban,
        }
        fields |= {"bic": REGION.bic, "amount_cents": 100, "remittance": "x", field: value}
        with pytest.raises(InvalidTransfer) as caught:
            build_credit_transfers(
                REGION,
                [Transfer(**fields)],
                message_id="M",
                execution_date=EXECUTION,
                created_at=CREATED_AT,
            )
        assert [e["loc"] for e in caught.value.extra["errors"]] == [["transfers", 0, field]]

    def test_duplicate_references_are_refused(self) -> None:
        twice = [transfers()[0], transfers()[0]]
        with pytest.raises(InvalidTransfer) as caught:
            build_credit_transfers(
                REGION, twice, message_id="M", execution_date=EXECUTION, created_at=CREATED_AT
            )
        assert caught.value.extra["errors"][0]["type"] == "duplicate"

    @pytest.mark.parametrize(
        "overrides",
        [
            {"message_id": "MCD BATCH é"},
            {"created_at": datetime(2027, 2, 27, 9, 0)},
            {"execution_date": datetime(2027, 3, 1, 9, 0, tzinfo=UTC)},
        ],
    )
    def test_file_parameters_are_checked(self, overrides: dict[str, Any]) -> None:
        with pytest.raises(InvalidTransfer) as caught:
            build(**overrides)
        assert caught.value.extra["errors"][0]["loc"] == list(overrides)

    def test_an_empty_batch_is_refused(self) -> None:
        with pytest.raises(InvalidTransfer):
            build_credit_transfers(
                REGION, [], message_id="M", execution_date=EXECUTION, created_at=CREATED_AT
            )

    def test_a_document_breaking_the_schema_is_refused(self) -> None:
        document = build().replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>XYZ</PmtMtd>")
        with pytest.raises(InvalidSepaFile, match="PmtMtd"):
            sepa._validate(document)


class TestRemittanceText:
    def test_invoice_references_come_first_then_the_cheque_codes(self) -> None:
        assert remittance_text(["FA-2027-001"], ["MCD-7K3Q-9XPA"]) == (
            "Facture FA-2027-001 - Cheque MCD-7K3Q-9XPA"
        )
        assert remittance_text(["F 1", "F 2"], ["MCD-AAAA-1111", "MCD-BBBB-2222"]) == (
            "Factures F 1, F 2 - Cheques MCD-AAAA-1111, MCD-BBBB-2222"
        )

    def test_each_reference_and_code_is_listed_once(self) -> None:
        # two partial redemptions of one cheque, one invoice for two cheques
        text = remittance_text(["F-1", "F-1", "F-2"], ["MCD-AAAA", "MCD-AAAA", "MCD-BBBB"])
        assert text == "Factures F-1, F-2 - Cheques MCD-AAAA, MCD-BBBB"

    def test_references_are_in_the_epc_set(self) -> None:
        text = remittance_text(["Fact. n°12 & 13", "#%@"], ["MCD-AAAA"])
        assert text == "Facture Fact. ndeg12 + 13 - Cheque MCD-AAAA"

    def test_references_that_do_not_fit_end_with_the_count_and_leave_out_the_codes(
        self,
    ) -> None:
        references = [f"FACTURE-2027-{n:04d}" for n in range(20)]
        text = remittance_text(references, ["MCD-AAAA-1111"])
        assert text == "Factures " + ", ".join(references[:6]) + " +14 autres"
        assert len(text) <= 140
        assert remittance_text([*references[:6], "X" * 20], ["MCD-AAAA-1111"]).endswith(" +1 autre")

    def test_codes_fill_what_room_is_left_with_their_count(self) -> None:
        codes = [f"MCD-{n:04d}-ABCD" for n in range(10)]
        text = remittance_text(["F" * 64], codes)
        assert text == "Facture " + "F" * 64 + " - Cheques " + ", ".join(codes[:3]) + " +7 autres"

    def test_codes_are_left_out_when_not_even_one_fits(self) -> None:
        references = ["F" * 64, "G" * 50]
        assert remittance_text(references, ["MCD-AAAA-1111"]) == "Factures " + ", ".join(references)

    def test_exactly_140_characters(self) -> None:
        references = ["F" * 64, "G" * 47]
        text = remittance_text(references, ["MCD-AAAA"])
        assert len(text) == 140 and text.endswith(" - Cheque MCD-AAAA")
        assert remittance_text(["F" * 64, "G" * 48], ["MCD-AAAA"]).endswith("G" * 48)

    def test_without_references_only_the_codes(self) -> None:
        assert remittance_text([], ["MCD-AAAA", "MCD-BBBB"]) == "Cheques MCD-AAAA, MCD-BBBB"

    @given(
        st.lists(st.text(max_size=64), max_size=30),
        st.lists(st.from_regex(r"MCD-[A-Z0-9]{4}-[A-Z0-9]{4}", fullmatch=True), max_size=30),
    )
    def test_always_fits_and_accounts_for_every_reference(
        self, invoices: list[str], codes: list[str]
    ) -> None:
        text = remittance_text(invoices, codes)
        assert len(text) <= 140 and set(text) <= EPC_SET
        references = list(dict.fromkeys(r for i in invoices if (r := sepa_text(i, 64))))
        if not references:
            assert text.startswith("Cheque") or not codes
            return
        heads = [listed(references, shown) for shown in range(1, len(references) + 1)]
        assert text in heads or text.startswith(f"{heads[-1]} - Cheque")


def listed(references: list[str], shown: int) -> str:
    hidden = len(references) - shown
    more = f" +{hidden} autre{'s' if hidden > 1 else ''}" if hidden > 0 else ""
    label = "Factures" if len(references) > 1 else "Facture"
    return f"{label} {', '.join(references[:shown])}{more}"


class TestIdentifiers:
    def test_message_and_end_to_end_ids_are_short_sepa_references(self) -> None:
        assert batch_message_id(42) == "MCD-BATCH-000042"
        assert end_to_end_id(42, 17) == "MCD-B000042-E000017"
        assert len(end_to_end_id(10**9, 10**9)) <= 35

    def test_ids_are_positive(self) -> None:
        with pytest.raises(ValueError, match="positive"):
            end_to_end_id(0, 1)


class TestSepaText:
    @pytest.mark.parametrize(
        ("name", "sent"),
        [
            ("Société Générale", "Societe Generale"),
            ("L'Œuvre Cœur d'Azur", "L'OEuvre Coeur d'Azur"),
            ("Conseil Numérique – Côte Bleue", "Conseil Numerique - Cote Bleue"),
            ("Expert", "Expert"),
            ("Dupont & Fils <SARL>", "Dupont + Fils SARL"),
            ("Facture #12 ; 50 % @ [x]_y", "Facture 12 , 50 (x)-y"),
            ("«Conseil»  \u00a0 “Numérique”!", "Conseil 'Numerique'."),
            ("Prix : 5 €", "Prix : 5 EUR"),
        ],
    )
    def test_only_the_epc_basic_latin_set_is_kept(self, name: str, sent: str) -> None:
        assert sepa_text(name, 70) == sent

    def test_the_cut_leaves_no_trailing_space(self) -> None:
        assert sepa_text("Conseil Numérique", 8) == "Conseil"

    @given(st.text(), st.integers(min_value=1, max_value=140))
    def test_any_text_comes_out_in_the_set(self, text: str, limit: int) -> None:
        sent = sepa_text(text, limit)
        assert set(sent) <= EPC_SET and len(sent) <= limit
        assert sent == sent.strip() and "  " not in sent
        assert sepa_text(sent, limit) == sent

    @settings(max_examples=40, deadline=None)
    @given(PRINTABLE, PRINTABLE, PRINTABLE)
    def test_any_names_and_remittance_make_a_valid_file(
        self, debtor: str, creditor: str, remittance: str
    ) -> None:
        debtor, creditor, remittance = f"D{debtor}", f"C{creditor}", f"R{remittance}"
        assume(len(unidecode(remittance)) <= 140)
        transfer = Transfer("MCD-1", creditor, REGION.iban, REGION.bic, 100, remittance)
        document = build_credit_transfers(
            Debtor(debtor, REGION.iban, REGION.bic),
            [transfer],
            message_id="M",
            execution_date=EXECUTION,
            created_at=CREATED_AT,
        )
        PAIN_001.validate(document.decode())
        for path in (".//p:Dbtr/p:Nm", ".//p:Cdtr/p:Nm", ".//p:RmtInf/p:Ustrd"):
            [text] = texts(document, path)
            assert set(text) <= EPC_SET

    def test_every_text_of_the_file_is_in_the_set(self) -> None:
        transfer = Transfer(
            "MCD-1", "Dupont & Fils_#1", REGION.iban, REGION.bic, 100, "Facture n°12; 50%"
        )
        document = build_credit_transfers(
            Debtor("Région <Sud> & Co", REGION.iban, REGION.bic),
            [transfer],
            message_id="M",
            execution_date=EXECUTION,
            created_at=CREATED_AT,
        )
        assert texts(document, ".//p:Dbtr/p:Nm") == ["Region Sud + Co"]
        assert texts(document, ".//p:Cdtr/p:Nm") == ["Dupont + Fils- 1"]
        assert texts(document, ".//p:RmtInf/p:Ustrd") == ["Facture ndeg12, 50"]
