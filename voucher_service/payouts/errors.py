"""Failures of the payout files, each with a stable ``code`` and a French title."""

from voucher_service.core.errors import (
    Conflict,
    InternalError,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
)


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


class NothingToPay(Unprocessable):
    """No active, unpaid redemption of an expert with confirmed bank details before the cut-off."""

    code = "nothing_to_pay"
    title = "Aucune prestation à payer à cette date"


class BatchNotFound(NotFound):
    code = "payout_batch_not_found"
    title = "Lot de virements introuvable"


class BatchNotCancellable(Conflict):
    """Only a draft batch (not yet sent to the bank) can be cancelled."""

    code = "payout_batch_not_cancellable"
    title = "Ce lot de virements ne peut plus être annulé"


class BatchNotExported(Conflict):
    """A draft has no SEPA file yet: exporting the batch (sent to the bank) produces it."""

    code = "payout_batch_not_exported"
    title = "Ce lot de virements n'est pas encore exporté"


class BatchNotApproved(Conflict):
    """Under four eyes, a draft is approved by a second person before it goes to the bank."""

    code = "payout_batch_not_approved"
    title = "Ce lot de virements attend l'approbation d'une seconde personne"


class SameApprover(Conflict):
    """The person who prepared a batch cannot also approve it."""

    code = "payout_batch_same_approver"
    title = "Le lot doit être approuvé par une autre personne que celle qui l'a préparé"


class BatchNotApprovable(Conflict):
    """Only a draft is approved: an exported or cancelled batch is past that step."""

    code = "payout_batch_not_approvable"
    title = "Seul un lot en préparation peut être approuvé"


class BatchCancelled(Conflict):
    code = "payout_batch_cancelled"
    title = "Ce lot de virements est annulé"


class RedemptionAlreadyBatched(Conflict):
    """Another batch took one of the redemptions at the same time."""

    code = "redemption_already_batched"
    title = "Une prestation est déjà dans un autre lot de virements"


class InvalidPeriod(Unprocessable):
    """The export's period is inverted or longer than ten years; the detail says which."""

    code = "invalid_period"
    title = "Période invalide"


class StatementAlreadyImporting(Conflict):
    """Two uploads of one statement at the same moment: the other one imports it."""

    code = "statement_already_importing"
    title = "Ce relevé est en cours d'import"


class StatementNotFound(NotFound):
    code = "bank_statement_not_found"
    title = "Relevé bancaire introuvable"
