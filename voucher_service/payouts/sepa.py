"""SEPA credit transfers (ISO 20022 pain.001.001.03) that pay the experts, built by sepaxml.

sepaxml stamps every file with the current time and random identifiers. A batch's file
must be the same each time the accountant downloads it, so after sepaxml has built the
document its creation time and identifiers are replaced by the caller's stable values,
and the result is validated against the schema before it leaves this module.

Every text of the file (the debtor's and creditors' names, the remittances) goes through
:func:`sepa_text`, which keeps only the EPC basic Latin set; the accountant is shown the
same cleaned names.
"""

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any

from lxml import etree
from sepaxml import SepaTransfer
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError
from text_unidecode import unidecode

from voucher_service.core.clock import PARIS
from voucher_service.payouts.errors import InvalidSepaFile, InvalidTransfer

SCHEMA = "pain.001.001.03"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
MAX_ID_LENGTH = 35
MAX_NAME_LENGTH = 70
MAX_REMITTANCE_LENGTH = 140
MAX_INVOICE_REFERENCE_LENGTH = 64  # as the expert may type it
REMITTANCE_SEPARATOR = " - "
MAX_AMOUNT_CENTS = 99_999_999_999  # 999 999 999,99 €: the EPC ceiling for one transfer
SEPA_REFERENCE = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]{1,35}")
CREATED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S"
# The EPC basic Latin character set, the only one every SEPA bank must accept.
EPC_CHARACTERS = frozenset(string.ascii_letters + string.digits + "/-?:().,'+ ")
# Look-alikes for some characters outside the set; any other becomes a space.
EPC_SUBSTITUTES = str.maketrans(
    {"&": "+", "_": "-", "[": "(", "{": "(", "]": ")", "}": ")", ";": ",", "!": "."}
    | {'"': "'", "`": "'"}
)

Location = list[str | int]
FieldProblem = dict[str, Any]  # rendered as one of the problem's ``errors``


@dataclass(frozen=True, slots=True)
class Debtor:
    """The Region's account the transfers are paid from."""

    name: str
    iban: str
    bic: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """One credit transfer to an expert; ``remittance`` is what the expert's bank shows."""

    end_to_end_id: str
    creditor_name: str
    iban: str
    bic: str
    amount_cents: int
    remittance: str


def sepa_text(text: str, limit: int) -> str:
    """``text`` in the EPC basic Latin set, at most ``limit`` characters: accents
    transliterated ('Société' → 'Societe'), '&' → '+', '_' → '-', brackets → parentheses,
    ';' → ',', quotes → "'", any other character outside the set → a space; runs of spaces
    are collapsed and the ends trimmed."""
    ascii_text = unidecode(text).translate(EPC_SUBSTITUTES)
    kept = "".join(char if char in EPC_CHARACTERS else " " for char in ascii_text)
    return " ".join(kept.split())[:limit].rstrip()


def remittance_text(invoices: Sequence[str], cheque_codes: Sequence[str]) -> str:
    """What the expert's bank shows: the invoice references first, then the cheque codes
    if there is room, within 140 characters of the EPC set and each listed once.

    'Factures FA-12, FA-13 - Cheques MCD-7K3Q-9XPA, MCD-4MZT-2WQE'. References that do not
    all fit end with the count left out ('Factures FA-1, FA-2 +3 autres') and leave no room
    for codes; codes come after complete references, as many as fit with the same count,
    and not at all when not even one fits.
    """
    references = _unique([sepa_text(i, MAX_INVOICE_REFERENCE_LENGTH) for i in invoices])
    text, shown = _listing("Facture", references, MAX_REMITTANCE_LENGTH)
    if shown < len(references):
        return text
    prefix = text + REMITTANCE_SEPARATOR if text else ""
    codes = _unique([sepa_text(code, MAX_ID_LENGTH) for code in cheque_codes])
    cheques, _ = _listing("Cheque", codes, MAX_REMITTANCE_LENGTH - len(prefix))
    return prefix + cheques if cheques else text


def _listing(noun: str, items: Sequence[str], room: int) -> tuple[str, int]:
    """'Factures A, B +3 autres' and how many items it shows: as many as fit in ``room``,
    at least one, else ('', 0)."""
    label = noun + ("s" if len(items) > 1 else "")
    for shown in range(len(items), 0, -1):
        hidden = len(items) - shown
        more = f" +{hidden} autre{'s' if hidden > 1 else ''}" if hidden else ""
        text = f"{label} {', '.join(items[:shown])}{more}"
        if len(text) <= room:
            return text, shown
    return "", 0


def _unique(items: Sequence[str]) -> list[str]:
    return [item for item in dict.fromkeys(items) if item]


def batch_message_id(batch_id: int) -> str:
    """The file's message id for a payout batch: 'MCD-BATCH-000042'."""
    return f"MCD-BATCH-{_positive(batch_id):06d}"


def end_to_end_id(batch_id: int, expert_id: int) -> str:
    """The reference that comes back on the bank statement: 'MCD-B000042-E000017'.

    One transfer per expert and batch, so the pair identifies the transfer.
    """
    return f"MCD-B{_positive(batch_id):06d}-E{_positive(expert_id):06d}"


def _positive(number: int) -> int:
    if number <= 0:
        raise ValueError(f"identifiers are positive, got {number}")
    return number


def build_credit_transfers(
    debtor: Debtor,
    transfers: Sequence[Transfer],
    *,
    message_id: str,
    execution_date: date,
    created_at: datetime,
) -> bytes:
    """The pain.001.001.03 file for a batch: one batch-booked payment of all the transfers.

    Byte-identical for identical arguments. Raises :class:`InvalidTransfer` listing every
    invalid field, and :class:`InvalidSepaFile` if the result breaks the schema anyway.
    """
    problems = _check_file(debtor, transfers, message_id, execution_date, created_at)
    if problems:
        fields = ", ".join(".".join(map(str, problem["loc"])) for problem in problems)
        raise InvalidTransfer(f"Champs invalides : {fields}.", errors=problems)
    produced = _export_with_sepaxml(debtor, transfers, execution_date)
    document = _stamp(produced, message_id, created_at)
    _validate(document)
    return document


def _export_with_sepaxml(
    debtor: Debtor, transfers: Sequence[Transfer], execution_date: date
) -> bytes:
    config = {
        "name": sepa_text(debtor.name, MAX_NAME_LENGTH),
        "IBAN": stdnum_iban.compact(debtor.iban),
        "BIC": stdnum_bic.compact(debtor.bic),
        "batch": True,
        "currency": "EUR",
    }
    sepa = SepaTransfer(config, schema=SCHEMA, clean=False)
    for transfer in transfers:
        sepa.add_payment(
            {
                "name": sepa_text(transfer.creditor_name, MAX_NAME_LENGTH),
                "IBAN": stdnum_iban.compact(transfer.iban),
                "BIC": stdnum_bic.compact(transfer.bic),
                "amount": transfer.amount_cents,
                "execution_date": execution_date,
                "description": sepa_text(transfer.remittance, MAX_REMITTANCE_LENGTH),
                "endtoend_id": transfer.end_to_end_id,
            }
        )
    produced: bytes = sepa.export(validate=False)
    return produced


def _stamp(produced: bytes, message_id: str, created_at: datetime) -> bytes:
    """Replace sepaxml's clock time and random ids with the caller's stable ones."""
    try:
        root = etree.fromstring(produced, _safe_parser())
    except etree.XMLSyntaxError as error:
        raise InvalidSepaFile(f"XML mal formé : {error.msg}") from None
    namespaces = {"p": NAMESPACE}
    (header_message_id,) = root.findall("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces)
    (header_created_at,) = root.findall("p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", namespaces)
    (payment_id,) = root.findall("p:CstmrCdtTrfInitn/p:PmtInf/p:PmtInfId", namespaces)
    header_message_id.text = message_id
    header_created_at.text = _creation_time(created_at)
    payment_id.text = message_id
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _creation_time(created_at: datetime) -> str:
    """Paris wall-clock time without offset, the form French banks' guides show."""
    return created_at.astimezone(PARIS).strftime(CREATED_AT_FORMAT)


def _validate(document: bytes) -> None:
    schema = _pain001_schema()
    if not schema.validate(etree.fromstring(document, _safe_parser())):
        error = schema.error_log.last_error
        assert error is not None, "a failed validation logs its error"
        raise InvalidSepaFile(f"Ligne {error.line} : {error.message}")


def _pain001_schema() -> etree.XMLSchema:
    """Compiled per file (about 3 ms): an lxml schema keeps its error log on itself, so one
    shared between threads would mix up two files' errors."""
    xsd = resources.files("sepaxml") / "schemas" / f"{SCHEMA}.xsd"
    return etree.XMLSchema(etree.fromstring(xsd.read_bytes(), _safe_parser()))


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _check_file(
    debtor: Debtor,
    transfers: Sequence[Transfer],
    message_id: str,
    execution_date: date,
    created_at: datetime,
) -> list[FieldProblem]:
    problems = _check_name(["debtor", "name"], debtor.name)
    problems += _check_bank_account(["debtor"], debtor.iban, debtor.bic)
    if not _is_sepa_reference(message_id):
        problems.append(_problem(["message_id"], "référence SEPA invalide", "invalid_id"))
    if isinstance(execution_date, datetime) or not isinstance(execution_date, date):
        problems.append(_problem(["execution_date"], "une date sans heure", "invalid_date"))
    if created_at.tzinfo is None:
        problems.append(_problem(["created_at"], "une heure avec fuseau", "naive_datetime"))
    if not transfers:
        problems.append(_problem(["transfers"], "au moins un virement", "empty"))
    seen: set[str] = set()
    for index, transfer in enumerate(transfers):
        problems += _check_transfer(["transfers", index], transfer, seen)
    return problems


def _check_transfer(loc: Location, transfer: Transfer, seen: set[str]) -> list[FieldProblem]:
    problems = _check_name([*loc, "creditor_name"], transfer.creditor_name)
    problems += _check_bank_account(loc, transfer.iban, transfer.bic)
    reference = transfer.end_to_end_id
    if not _is_sepa_reference(reference):
        problems.append(_problem([*loc, "end_to_end_id"], "référence SEPA invalide", "invalid_id"))
    elif reference in seen:
        problems.append(_problem([*loc, "end_to_end_id"], "référence en double", "duplicate"))
    seen.add(reference)
    amount = transfer.amount_cents
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT_CENTS:
        problems.append(_problem([*loc, "amount_cents"], "montant positif en centimes", "amount"))
    remittance = unidecode(transfer.remittance)
    if not sepa_text(remittance, MAX_REMITTANCE_LENGTH) or len(remittance) > MAX_REMITTANCE_LENGTH:
        problems.append(_problem([*loc, "remittance"], "1 à 140 caractères", "remittance"))
    elif not remittance.isprintable():
        problems.append(_problem([*loc, "remittance"], "caractère de contrôle", "remittance"))
    return problems


def _check_name(loc: Location, name: str) -> list[FieldProblem]:
    if not sepa_text(name, MAX_NAME_LENGTH):
        return [_problem(loc, "nom vide une fois translittéré", "empty")]
    if not unidecode(name).isprintable():
        return [_problem(loc, "saut de ligne ou caractère de contrôle", "control_character")]
    return []


def _check_bank_account(loc: Location, iban: str, bic: str) -> list[FieldProblem]:
    problems = []
    for field, number, value in (("iban", stdnum_iban, iban), ("bic", stdnum_bic, bic)):
        try:
            number.validate(value)
        except ValidationError:
            problems.append(
                _problem([*loc, field], f"{field.upper()} invalide", f"invalid_{field}")
            )
    return problems


def _is_sepa_reference(reference: str) -> bool:
    """EPC rules for identifiers: restricted Latin set, no leading, trailing or double '/'."""
    return (
        SEPA_REFERENCE.fullmatch(reference) is not None
        and not reference.startswith("/")
        and not reference.endswith("/")
        and "//" not in reference
    )


def _problem(loc: Location, message: str, kind: str) -> FieldProblem:
    return {"loc": loc, "msg": message, "type": kind}
