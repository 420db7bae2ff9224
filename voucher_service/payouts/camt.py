"""Bank statements (ISO 20022 camt.053, versions .001.02, .001.04 and .001.08) read back
safely.

A statement is an uploaded, untrusted file. Before anything else is parsed, the prolog
is read alone and any DOCTYPE refuses the file: no entity can be declared, so none is
expanded (billion laughs) or fetched (XXE). The parser itself never touches the network
or loads a DTD, keeps libxml2's depth and text-size limits, and files over a size limit
are refused unread.

Banks book a batch of transfers in one of two ways, and both come out of here:
one entry per transfer (each with its ``EndToEndId``), or one debit entry for the whole
batch (``NtryDtls/Btch`` with the file's ``MsgId`` or its ``PmtInfId``, and ``NbOfTxs``,
with or without the transactions' details). A transfer the expert's bank sent back shows
as a credit entry with a reversal indicator or a return reason (``RtrInf/Rsn/Cd``, e.g.
``AC04``).
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NoReturn, TypedDict

from lxml import etree
from stdnum import iban as stdnum_iban

from voucher_service.core.config import Settings
from voucher_service.payouts.errors import InvalidStatement, StatementTooLarge

CAMT053_NAMESPACES = {
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02": "camt.053.001.02",
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.04": "camt.053.001.04",
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08": "camt.053.001.08",
}
MAX_STATEMENT_BYTES: int = Settings.model_fields["max_statement_bytes"].default
DECIMAL_AMOUNT = re.compile(r"[0-9]{1,18}(\.[0-9]{1,5})?")
NOT_PROVIDED = "NOTPROVIDED"
RETURN_SUB_FAMILIES = {"RRTN"}  # ISO bank transaction code: reversal due to payment return


class _Hardening(TypedDict):
    resolve_entities: bool
    no_network: bool
    load_dtd: bool
    dtd_validation: bool
    huge_tree: bool


_HARDENING: _Hardening = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
}


@dataclass(frozen=True, slots=True)
class EntryTransaction:
    """One transfer inside an entry; its amount is unknown when the bank does not give it."""

    end_to_end_id: str | None
    amount_cents: int | None
    return_reason: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the statement. Amounts are positive; ``credit_debit`` gives the way."""

    entry_ref: str | None
    booking_date: date | None
    amount_cents: int
    credit_debit: str
    status: str
    is_return: bool
    return_reason: str | None
    batch_message_id: str | None
    transactions: list[EntryTransaction]
    batch_transaction_count: int | None = None
    currency: str = "EUR"
    batch_payment_id: str | None = None  # the PmtInfId of the file's payment block


@dataclass(frozen=True, slots=True)
class Statement:
    id: str
    account_iban: str  # compact (no spaces, upper case), or the account's other id
    entries: list[Entry]


def parse_statement(data: bytes, *, max_bytes: int = MAX_STATEMENT_BYTES) -> Statement:
    """The one statement of a camt.053 document; refuses documents holding several."""
    statements = parse_statements(data, max_bytes=max_bytes)
    if len(statements) != 1:
        _refuse(f"Le document contient {len(statements)} relevés, un seul était attendu.")
    return statements[0]


def parse_statements(data: bytes, *, max_bytes: int = MAX_STATEMENT_BYTES) -> list[Statement]:
    """Every statement (``Stmt``) of a camt.053 document, one per account and period.

    Raises :class:`StatementTooLarge` over ``max_bytes``, and :class:`InvalidStatement`
    (code ``invalid_statement``) for anything that is not a plain camt.053 document.
    """
    root = _parse_untrusted(data, max_bytes)
    reader = _Reader(_camt053_namespace(root))
    statements = reader.findall(root, "BkToCstmrStmt/Stmt")
    if not statements:
        _refuse("Le document ne contient aucun relevé (Stmt).")
    return [_statement(reader, statement) for statement in statements]


def _parse_untrusted(data: bytes, max_bytes: int) -> etree._Element:
    if len(data) > max_bytes:
        raise StatementTooLarge(f"Le relevé dépasse {max_bytes} octets.")
    if _declares_doctype(data):
        _refuse("Le relevé contient une déclaration DOCTYPE, refusée par sécurité.")
    try:
        root = etree.fromstring(data, _hardened_parser())
    except etree.XMLSyntaxError as error:
        _refuse(f"Le relevé n'est pas un XML valide : {error.msg}")
    if root.getroottree().docinfo.internalDTD is not None:  # pragma: no cover - belt and braces
        _refuse("Le relevé contient une déclaration DOCTYPE, refusée par sécurité.")
    return root


class _DoctypeFound(Exception):
    pass


class _RootReached(Exception):
    pass


class _PrologWatcher:
    """A parser target that stops at the DOCTYPE, or at the root element when there is none.

    libxml2 reports the DOCTYPE before reading its internal subset, so no entity
    declaration is ever read.
    """

    def doctype(self, *_: object) -> None:
        raise _DoctypeFound

    def start(self, *_: object) -> None:
        raise _RootReached

    def close(self) -> None:
        return None


def _declares_doctype(data: bytes) -> bool:
    # lxml calls only the target methods defined; its stubs want the whole ParserTarget.
    parser = etree.XMLParser(target=_PrologWatcher(), **_HARDENING)  # type: ignore[call-overload]
    try:
        parser.feed(data)
        parser.close()
    except _DoctypeFound:
        return True
    except _RootReached:
        return False
    except etree.XMLSyntaxError as error:
        _refuse(f"Le relevé n'est pas un XML valide : {error.msg}")
    _refuse("Le relevé est vide.")


def _hardened_parser() -> etree.XMLParser:
    """A new parser per document: lxml parsers must not be shared between threads."""
    return etree.XMLParser(remove_comments=True, remove_pis=True, **_HARDENING)


def _camt053_namespace(root: etree._Element) -> str:
    name = etree.QName(root)
    namespace = name.namespace or ""
    if name.localname != "Document" or namespace not in CAMT053_NAMESPACES:
        versions = ", ".join(CAMT053_NAMESPACES.values())
        _refuse(f"Ce n'est pas un relevé camt.053 ({versions}) : {namespace or name.localname}.")
    return namespace


def _refuse(detail: str) -> NoReturn:
    raise InvalidStatement(detail)


class _Reader:
    """Namespaced look-ups written as plain paths: ``reader.text(entry, 'Amt')``."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def path(self, path: str) -> str:
        return "/".join(f"{{{self.namespace}}}{step}" for step in path.split("/"))

    def find(self, node: etree._Element, path: str) -> etree._Element | None:
        return node.find(self.path(path))

    def findall(self, node: etree._Element, path: str) -> list[etree._Element]:
        return node.findall(self.path(path))

    def text(self, node: etree._Element, path: str) -> str | None:
        found = node.findtext(self.path(path))
        return found.strip() or None if found is not None else None

    def first_text(self, node: etree._Element, *paths: str) -> str | None:
        return next(filter(None, (self.text(node, path) for path in paths)), None)


def _statement(reader: _Reader, node: etree._Element) -> Statement:
    statement_id = reader.text(node, "Id")
    account = reader.first_text(node, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
    if statement_id is None or account is None:
        _refuse("Un relevé n'a pas d'identifiant (Id) ou de compte (Acct/Id).")
    entries = [
        _entry(reader, entry, number)
        for number, entry in enumerate(reader.findall(node, "Ntry"), start=1)
    ]
    return Statement(id=statement_id, account_iban=stdnum_iban.compact(account), entries=entries)


def _entry(reader: _Reader, node: etree._Element, number: int) -> Entry:
    where = f"écriture n°{number}"
    amount = reader.find(node, "Amt")
    if amount is None:
        _refuse(f"Montant (Amt) manquant, {where}.")
    amount_cents = _cents(amount.text, where)
    credit_debit = reader.text(node, "CdtDbtInd")
    if credit_debit not in ("CRDT", "DBIT"):
        _refuse(f"Sens (CdtDbtInd) manquant ou inconnu, {where}.")
    details = reader.findall(node, "NtryDtls/TxDtls")
    only_amount = amount_cents if len(details) == 1 else None
    transactions = [_transaction(reader, tx, only_amount, where) for tx in details]
    return_reason = next((tx.return_reason for tx in transactions if tx.return_reason), None)
    return Entry(
        entry_ref=reader.first_text(node, "NtryRef", "AcctSvcrRef"),
        booking_date=_booking_date(reader, node, where),
        amount_cents=amount_cents,
        credit_debit=credit_debit,
        status=_status(reader, node, where),
        is_return=_is_reversal(reader, node) or return_reason is not None,
        return_reason=return_reason,
        batch_message_id=reader.first_text(
            node, "NtryDtls/Btch/MsgId", "NtryDtls/TxDtls/Refs/MsgId"
        ),
        transactions=transactions,
        batch_transaction_count=_count(reader.text(node, "NtryDtls/Btch/NbOfTxs"), where),
        currency=amount.get("Ccy", "EUR"),
        batch_payment_id=reader.first_text(
            node, "NtryDtls/Btch/PmtInfId", "NtryDtls/TxDtls/Refs/PmtInfId"
        ),
    )


def _transaction(
    reader: _Reader, node: etree._Element, only_amount: int | None, where: str
) -> EntryTransaction:
    amount = reader.first_text(node, *_TRANSACTION_AMOUNTS)
    end_to_end_id = reader.text(node, "Refs/EndToEndId")
    return EntryTransaction(
        end_to_end_id=None if end_to_end_id == NOT_PROVIDED else end_to_end_id,
        amount_cents=only_amount if amount is None else _cents(amount, where),
        return_reason=reader.first_text(node, "RtrInf/Rsn/Cd", "RtrInf/Rsn/Prtry"),
    )


# .04 and .08 give the amount directly; .02 only in the amount details.
_TRANSACTION_AMOUNTS = ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt")


def _status(reader: _Reader, node: etree._Element, where: str) -> str:
    """``<Sts>BOOK</Sts>`` in .02 and .04, ``<Sts><Cd>BOOK</Cd></Sts>`` in .08."""
    status = reader.first_text(node, "Sts/Cd", "Sts/Prtry") or reader.text(node, "Sts")
    if status is None:
        _refuse(f"Statut (Sts) manquant, {where}.")
    return status


def _is_reversal(reader: _Reader, node: etree._Element) -> bool:
    reversal = reader.text(node, "RvslInd") in ("true", "1")
    sub_family = reader.text(node, "BkTxCd/Domn/Fmly/SubFmlyCd")
    return reversal or sub_family in RETURN_SUB_FAMILIES


def _booking_date(reader: _Reader, node: etree._Element, where: str) -> date | None:
    booked = reader.first_text(node, "BookgDt/Dt", "BookgDt/DtTm")
    if booked is None:
        return None
    try:
        return date.fromisoformat(booked[:10])
    except ValueError:
        _refuse(f"Date de comptabilisation illisible « {booked[:40]} », {where}.")


def _cents(amount: str | None, where: str) -> int:
    """'1500.5' → 150050, refusing anything finer than a cent or shaped oddly."""
    text = (amount or "").strip()
    if not DECIMAL_AMOUNT.fullmatch(text):
        _refuse(f"Montant illisible « {text[:40]} », {where}.")
    cents = Decimal(text) * 100
    if cents != cents.to_integral_value():
        _refuse(f"Montant plus fin que le centime « {text} », {where}.")
    return int(cents)


def _count(text: str | None, where: str) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or len(text) > 15:
        _refuse(f"Nombre de transactions illisible « {text[:40]} », {where}.")
    return int(text)
