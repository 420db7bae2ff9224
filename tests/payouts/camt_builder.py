"""Realistic camt.053 bank statements for tests (camt.053.001.02 unless asked for .04 or
.08).

Elements come in the schema's order, with the parts banks really send around the ones
the parser reads (balances, summary, bank transaction codes, related parties), so that a
parser that only works on minimal documents would be caught out. What changes between
versions: .04 and .08 name a bank's BIC ``BICFI`` and give each transaction its ``Amt``
and ``CdtDbtInd`` (.02 only ``AmtDtls``); .08 wraps the status in ``Cd`` and a party in
``Pty``.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lxml import etree
from lxml.builder import ElementMaker

REGION_IBAN = "FR7630006000011234567890189"
REGION_BIC = "AGRIFRPPXXX"


@dataclass
class StatementTransaction:
    end_to_end_id: str | None = None
    amount_cents: int | None = None
    return_reason: str | None = None
    message_id: str | None = None
    creditor_name: str = "Conseil Numérique SARL"
    creditor_iban: str = "FR1420041010050500013M02606"
    remittance: str | None = None


@dataclass
class StatementEntry:
    amount_cents: int
    credit_debit: str = "DBIT"
    status: str = "BOOK"
    booking_date: date | None = date(2027, 3, 1)
    entry_ref: str | None = None
    reversal: bool = False
    batch_message_id: str | None = None
    batch_payment_id: str | None = None
    batch_count: int | None = None
    transactions: list[StatementTransaction] = field(default_factory=list)
    bank_code: tuple[str, str, str] = ("PMNT", "ICDT", "ESCT")
    additional_info: str | None = None
    currency: str = "EUR"


def build_statement(
    entries: list[StatementEntry],
    *,
    statement_id: str = "STMT-2027-03-01-001",
    iban: str = REGION_IBAN,
    created_at: datetime = datetime(2027, 3, 2, 6, 15),
    version: str = "02",
) -> bytes:
    namespace = f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"
    e = ElementMaker(namespace=namespace, nsmap={None: namespace})
    document = e.Document(
        e.BkToCstmrStmt(
            e.GrpHdr(e.MsgId(f"CAMT053-{statement_id}"), e.CreDtTm(created_at.isoformat())),
            _statement(e, entries, statement_id, iban, created_at, version),
        )
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _statement(
    e: ElementMaker,
    entries: list[StatementEntry],
    statement_id: str,
    iban: str,
    created_at: datetime,
    version: str,
) -> etree._Element:
    day = (created_at.date() - timedelta(days=1)).isoformat()
    return e.Stmt(
        e.Id(statement_id),
        e.ElctrncSeqNb("60"),
        e.CreDtTm(created_at.isoformat()),
        e.FrToDt(e.FrDtTm(f"{day}T00:00:00"), e.ToDtTm(f"{day}T23:59:59")),
        e.Acct(
            e.Id(e.IBAN(iban)),
            e.Ccy("EUR"),
            e.Svcr(e.FinInstnId(e.BIC(REGION_BIC) if version == "02" else e.BICFI(REGION_BIC))),
        ),
        _balance(e, "OPBD", 5_000_000_00, day),
        _balance(e, "CLBD", 5_000_000_00, day),
        e.TxsSummry(e.TtlNtries(e.NbOfNtries(str(len(entries))))),
        *[_entry(e, entry, version) for entry in entries],
    )


def _balance(e: ElementMaker, kind: str, cents: int, day: str) -> etree._Element:
    return e.Bal(
        e.Tp(e.CdOrPrtry(e.Cd(kind))),
        e.Amt(_decimal(cents), Ccy="EUR"),
        e.CdtDbtInd("CRDT"),
        e.Dt(e.Dt(day)),
    )


def _entry(e: ElementMaker, entry: StatementEntry, version: str) -> etree._Element:
    domain, family, sub_family = entry.bank_code
    parts = [
        e.NtryRef(entry.entry_ref) if entry.entry_ref else None,
        e.Amt(_decimal(entry.amount_cents), Ccy=entry.currency),
        e.CdtDbtInd(entry.credit_debit),
        e.RvslInd("true") if entry.reversal else None,
        e.Sts(e.Cd(entry.status)) if version == "08" else e.Sts(entry.status),
        e.BookgDt(e.Dt(entry.booking_date.isoformat())) if entry.booking_date else None,
        e.ValDt(e.Dt((entry.booking_date or date(2027, 3, 1)).isoformat())),
        e.AcctSvcrRef(f"BQ-{entry.entry_ref or 'X'}-{entry.amount_cents}"),
        e.BkTxCd(e.Domn(e.Cd(domain), e.Fmly(e.Cd(family), e.SubFmlyCd(sub_family)))),
        _details(e, entry, version),
        e.AddtlNtryInf(entry.additional_info) if entry.additional_info else None,
    ]
    return e.Ntry(*[part for part in parts if part is not None])


def _details(e: ElementMaker, entry: StatementEntry, version: str) -> etree._Element | None:
    batch = None
    if entry.batch_message_id or entry.batch_payment_id or entry.batch_count is not None:
        batch = e.Btch(
            *([e.MsgId(entry.batch_message_id)] if entry.batch_message_id else []),
            *([e.PmtInfId(entry.batch_payment_id)] if entry.batch_payment_id else []),
            *([e.NbOfTxs(str(entry.batch_count))] if entry.batch_count is not None else []),
            e.TtlAmt(_decimal(entry.amount_cents), Ccy=entry.currency),
            e.CdtDbtInd(entry.credit_debit),
        )
    transactions = [_transaction(e, tx, entry, version) for tx in entry.transactions]
    if batch is None and not transactions:
        return None
    return e.NtryDtls(*([batch] if batch is not None else []), *transactions)


def _transaction(
    e: ElementMaker, tx: StatementTransaction, entry: StatementEntry, version: str
) -> etree._Element:
    references = [
        e.MsgId(tx.message_id) if tx.message_id else None,
        e.EndToEndId(tx.end_to_end_id) if tx.end_to_end_id else None,
    ]
    amounts: list[etree._Element | None] = [None]
    if tx.amount_cents is not None and version != "02":
        amounts = [
            e.Amt(_decimal(tx.amount_cents), Ccy=entry.currency),
            e.CdtDbtInd(entry.credit_debit),
        ]
    elif tx.amount_cents is not None:
        amount, currency = _decimal(tx.amount_cents), entry.currency
        amounts = [
            e.AmtDtls(e.InstdAmt(e.Amt(amount, Ccy=currency)), e.TxAmt(e.Amt(amount, Ccy=currency)))
        ]
    parts = [
        e.Refs(*[r for r in references if r is not None]),
        *amounts,
        _related_parties(e, tx, version),
        e.RmtInf(e.Ustrd(tx.remittance)) if tx.remittance else None,
        e.RtrInf(e.Rsn(e.Cd(tx.return_reason)), e.AddtlInf("Compte clôturé"))
        if tx.return_reason
        else None,
    ]
    return e.TxDtls(*[part for part in parts if part is not None])


def _related_parties(e: ElementMaker, tx: StatementTransaction, version: str) -> etree._Element:
    name = e.Nm(tx.creditor_name)
    creditor = e.Cdtr(e.Pty(name)) if version == "08" else e.Cdtr(name)
    return e.RltdPties(creditor, e.CdtrAcct(e.Id(e.IBAN(tx.creditor_iban))))


def _decimal(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
