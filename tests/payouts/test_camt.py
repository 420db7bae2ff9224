import re
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import xmlschema

from tests.payouts.camt_builder import (
    REGION_IBAN,
    StatementEntry,
    StatementTransaction,
    build_statement,
)
from voucher_service.payouts.camt import (
    MAX_STATEMENT_BYTES,
    Entry,
    EntryTransaction,
    parse_statement,
    parse_statements,
)
from voucher_service.payouts.errors import InvalidStatement, StatementTooLarge

BATCH = "MCD-BATCH-000042"
SCHEMAS = Path(__file__).parent / "schemas"
VERSIONS = ["02", "04", "08"]


def per_transfer_statement(version: str = "02") -> bytes:
    return build_statement(
        [
            StatementEntry(
                180000,
                entry_ref="N1",
                transactions=[
                    StatementTransaction("MCD-B000042-E000007", 180000, message_id=BATCH)
                ],
            ),
            StatementEntry(
                400050,
                entry_ref="N2",
                transactions=[
                    StatementTransaction("MCD-B000042-E000008", 400050, message_id=BATCH)
                ],
            ),
            StatementEntry(
                12345, credit_debit="CRDT", entry_ref="N3", bank_code=("PMNT", "RCDT", "ESCT")
            ),
        ],
        version=version,
    )


def every_kind_of_statement(version: str) -> list[bytes]:
    transfer = StatementTransaction("MCD-B000042-E000007", 180000, message_id=BATCH)
    returned = StatementTransaction("MCD-B000042-E000007", 180000, return_reason="AC04")
    return [
        per_transfer_statement(version),
        build_statement(
            [StatementEntry(180000, batch_message_id=BATCH, batch_count=1)], version=version
        ),
        build_statement(
            [StatementEntry(180000, batch_payment_id=BATCH, batch_count=1)], version=version
        ),
        build_statement(
            [StatementEntry(180000, batch_message_id=BATCH, transactions=[transfer])],
            version=version,
        ),
        build_statement(
            [StatementEntry(180000, credit_debit="CRDT", reversal=True, transactions=[returned])],
            version=version,
        ),
        build_statement([StatementEntry(1, status="PDNG", booking_date=None)], version=version),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_test_statements_are_valid_iso_20022(version: str) -> None:
    schema = xmlschema.XMLSchema(str(SCHEMAS / f"camt.053.001.{version}.xsd"))
    for document in every_kind_of_statement(version):
        schema.validate(document)


class TestPerTransferBooking:
    def test_each_transfer_is_an_entry_with_its_reference(self) -> None:
        statement = parse_statement(per_transfer_statement())
        assert statement.id == "STMT-2027-03-01-001"
        assert statement.account_iban == REGION_IBAN
        first, second, incoming = statement.entries
        assert first == Entry(
            entry_ref="N1",
            booking_date=date(2027, 3, 1),
            amount_cents=180000,
            credit_debit="DBIT",
            status="BOOK",
            is_return=False,
            return_reason=None,
            batch_message_id=BATCH,
            transactions=[EntryTransaction("MCD-B000042-E000007", 180000, None)],
        )
        assert second.transactions[0].end_to_end_id == "MCD-B000042-E000008"
        assert second.amount_cents == 400050
        assert incoming.credit_debit == "CRDT"
        assert incoming.transactions == []
        assert incoming.batch_message_id is None

    @pytest.mark.parametrize("version", ["04", "08"])
    def test_later_versions_read_the_same(self, version: str) -> None:
        assert parse_statement(per_transfer_statement(version)) == parse_statement(
            per_transfer_statement("02")
        )


class TestBatchBooking:
    def test_one_debit_for_the_whole_batch_without_details(self) -> None:
        data = build_statement(
            [StatementEntry(580050, entry_ref="B1", batch_message_id=BATCH, batch_count=2)]
        )
        (entry,) = parse_statement(data).entries
        assert entry.batch_message_id == BATCH
        assert entry.batch_transaction_count == 2
        assert entry.amount_cents == 580050
        assert entry.credit_debit == "DBIT"
        assert entry.transactions == []
        assert not entry.is_return

    @pytest.mark.parametrize("version", VERSIONS)
    def test_one_debit_named_by_the_payment_information_id(self, version: str) -> None:
        data = build_statement(
            [StatementEntry(580050, batch_payment_id=BATCH, batch_count=2)], version=version
        )
        (entry,) = parse_statement(data).entries
        assert (entry.batch_payment_id, entry.batch_message_id) == (BATCH, None)
        assert entry.batch_transaction_count == 2 and entry.transactions == []

    def test_one_debit_with_the_details_of_each_transfer(self) -> None:
        data = build_statement(
            [
                StatementEntry(
                    580050,
                    batch_message_id=BATCH,
                    batch_count=2,
                    transactions=[
                        StatementTransaction("MCD-B000042-E000007", 180000),
                        StatementTransaction("MCD-B000042-E000008", 400050),
                    ],
                )
            ]
        )
        (entry,) = parse_statement(data).entries
        assert entry.transactions == [
            EntryTransaction("MCD-B000042-E000007", 180000, None),
            EntryTransaction("MCD-B000042-E000008", 400050, None),
        ]

    def test_transactions_without_amounts_are_not_guessed(self) -> None:
        data = build_statement(
            [
                StatementEntry(
                    580050,
                    batch_message_id=BATCH,
                    transactions=[StatementTransaction("E1"), StatementTransaction("E2")],
                )
            ]
        )
        (entry,) = parse_statement(data).entries
        assert [tx.amount_cents for tx in entry.transactions] == [None, None]

    def test_a_single_transaction_without_amount_takes_the_entrys(self) -> None:
        data = build_statement([StatementEntry(180000, transactions=[StatementTransaction("E1")])])
        assert parse_statement(data).entries[0].transactions[0].amount_cents == 180000


class TestReturnedTransfer:
    @pytest.mark.parametrize("version", VERSIONS)
    def test_a_return_with_reason_ac04(self, version: str) -> None:
        data = build_statement(
            [
                StatementEntry(
                    180000,
                    credit_debit="CRDT",
                    bank_code=("PMNT", "ICDT", "RRTN"),
                    booking_date=date(2027, 3, 4),
                    transactions=[
                        StatementTransaction("MCD-B000042-E000007", 180000, return_reason="AC04")
                    ],
                )
            ],
            version=version,
        )
        (entry,) = parse_statement(data).entries
        assert entry.is_return
        assert entry.return_reason == "AC04"
        assert entry.credit_debit == "CRDT"
        assert entry.booking_date == date(2027, 3, 4)
        assert entry.transactions == [EntryTransaction("MCD-B000042-E000007", 180000, "AC04")]

    def test_a_reversal_indicator_alone_marks_a_return(self) -> None:
        data = build_statement(
            [
                StatementEntry(
                    180000,
                    credit_debit="CRDT",
                    reversal=True,
                    transactions=[StatementTransaction("MCD-B000042-E000007")],
                )
            ]
        )
        (entry,) = parse_statement(data).entries
        assert entry.is_return
        assert entry.return_reason is None

    def test_a_pending_entry_keeps_its_status_and_has_no_booking_date(self) -> None:
        data = build_statement([StatementEntry(100, status="PDNG", booking_date=None)])
        (entry,) = parse_statement(data).entries
        assert entry.status == "PDNG"
        assert entry.booking_date is None


class TestSeveralStatements:
    def test_every_statement_of_the_document(self) -> None:
        data = per_transfer_statement().replace(b"</BkToCstmrStmt>", b"")
        one = data[data.index(b"<Stmt>") : data.index(b"</Stmt>") + len(b"</Stmt>")]
        doubled = data.replace(b"</Document>", one + b"</BkToCstmrStmt></Document>")
        assert len(parse_statements(doubled)) == 2
        with pytest.raises(InvalidStatement, match="2 relevés"):
            parse_statement(doubled)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE Document [\n<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
        for n in range(1, 10)
    )
    + b']>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
    + b"<BkToCstmrStmt><Stmt><Id>&lol9;</Id></Stmt></BkToCstmrStmt></Document>"
)


def external_entity(secret: Path) -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY x SYSTEM "file://'
        + str(secret).encode()
        + b'">]>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        b"<BkToCstmrStmt><Stmt><Id>&x;</Id></Stmt></BkToCstmrStmt></Document>"
    )


def refused_quickly_and_small(data: bytes) -> InvalidStatement:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InvalidStatement) as caught:
            parse_statements(data)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 1_000_000
    assert caught.value.code == "invalid_statement"
    assert caught.value.status == 422
    return caught.value


class TestHostileDocuments:
    def test_billion_laughs_is_refused_without_expansion(self) -> None:
        error = refused_quickly_and_small(BILLION_LAUGHS)
        assert "DOCTYPE" in str(error)

    def test_billion_laughs_in_utf16_is_refused_too(self) -> None:
        data = BILLION_LAUGHS.replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"')
        refused_quickly_and_small(data.decode().encode("utf-16"))

    def test_external_entity_is_refused_without_reading_the_file(self, tmp_path: Path) -> None:
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP-SECRET-VALUE")
        error = refused_quickly_and_small(external_entity(secret))
        assert "TOP-SECRET-VALUE" not in str(error.to_problem())

    @pytest.mark.parametrize(
        "doctype",
        [
            b'<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/evil.dtd">',
            b'<!DOCTYPE Document [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
            b"<!DOCTYPE Document>",
            # refused before the internal subset is read: this one would not even parse
            b"<!DOCTYPE Document [ <!ENTITY broken broken broken ]>",
        ],
    )
    def test_any_doctype_is_refused(self, doctype: bytes) -> None:
        data = per_transfer_statement().replace(b"?>\n", b"?>\n" + doctype + b"\n", 1)
        assert "DOCTYPE" in str(refused_quickly_and_small(data))

    def test_a_statement_over_the_size_limit_is_refused_unread(self) -> None:
        data = per_transfer_statement()
        with pytest.raises(StatementTooLarge) as caught:
            parse_statements(data, max_bytes=len(data) - 1)
        assert (caught.value.status, caught.value.code) == (413, "statement_too_large")
        assert len(b" " * (MAX_STATEMENT_BYTES + 1) + data) > MAX_STATEMENT_BYTES
        with pytest.raises(StatementTooLarge):
            parse_statements(data + b" " * MAX_STATEMENT_BYTES)

    def test_deep_nesting_stays_within_the_parsers_limits(self) -> None:
        deep = b"<a>" * 100_000 + b"</a>" * 100_000
        refused_quickly_and_small(deep)


def corrupt(pattern: bytes, new: bytes) -> Callable[[], bytes]:
    """The per-transfer statement with the first match of ``pattern`` replaced."""

    def corrupted() -> bytes:
        data, replaced = re.subn(pattern, new, per_transfer_statement(), count=1)
        assert replaced == 1
        return data

    return corrupted


class TestGarbage:
    @pytest.mark.parametrize(
        "make",
        [
            lambda: b"",
            lambda: b"   ",
            lambda: b"not xml at all",
            lambda: b'{"statement": 1}',
            lambda: b"PK\x03\x04\x14\x00\x00\x00",
            lambda: b"<Document/>",
            lambda: b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
            lambda: b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>',
            lambda: per_transfer_statement()[:-40],
            corrupt(b'<Amt Ccy="EUR">1800.00', b'<Amt Ccy="EUR">1800,00'),
            corrupt(b'<Amt Ccy="EUR">1800.00', b'<Amt Ccy="EUR">1E999999999'),
            corrupt(b'<Amt Ccy="EUR">1800.00', b'<Amt Ccy="EUR">1800.001'),
            corrupt(b'<Amt Ccy="EUR">1800.00', b'<Amt Ccy="EUR">-1800.00'),
            corrupt(b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>X</CdtDbtInd>"),
            corrupt(rb"<BookgDt>\s*<Dt>2027-03-01</Dt>", b"<BookgDt><Dt>demain</Dt>"),
            corrupt(b"<Sts>BOOK</Sts>", b""),
            corrupt(b"<IBAN>" + REGION_IBAN.encode() + b"</IBAN>", b""),
        ],
    )
    def test_is_refused_as_an_invalid_statement(self, make: Callable[[], bytes]) -> None:
        with pytest.raises(InvalidStatement) as caught:
            parse_statements(make())
        assert caught.value.to_problem()["code"] == "invalid_statement"
