"""Failures of the payout files, each with a stable ``code`` and a French title."""

from voucher_service.core.errors import InternalError, PayloadTooLarge, Unprocessable


class InvalidTransfer(Unprocessable):
    """A transfer (or the paying account) cannot go into a SEPA file as it is."""

    code = "invalid_transfer"
    title = "Virement SEPA invalide"


class InvalidSepaFile(Unprocessable):
    """The produced pain.001 file does not validate against the ISO 20022 schema."""

    code = "invalid_sepa_file"
    title = "Le fichier de virements SEPA ne respecte pas le schéma ISO 20022"


class InvalidStatement(Unprocessable):
    """An uploaded bank statement is not a camt.053 document we can read safely."""

    code = "invalid_statement"
    title = "Relevé bancaire illisible ou refusé"


class StatementTooLarge(PayloadTooLarge):
    code = "statement_too_large"
    title = "Relevé bancaire trop volumineux"


class InvalidJournalEntry(InternalError):
    """Accounting entries handed to the FEC writer break the legal rules: a bug upstream."""

    code = "invalid_journal_entry"
    title = "Écriture comptable invalide"


class UnbalancedEntry(InvalidJournalEntry):
    code = "unbalanced_entry"
    title = "Écriture comptable déséquilibrée"


class EntriesOutOfOrder(InvalidJournalEntry):
    code = "entries_out_of_order"
    title = "Écritures comptables hors de l'ordre chronologique"
