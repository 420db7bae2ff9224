"""The French words people read for the payout states and bank codes: the one place the
pages (and anything else shown to people) take them from."""

from voucher_service.payouts.models import BatchStatus, TransferStatus

BATCH_STATUS: dict[str, str] = {
    BatchStatus.draft: "Brouillon",
    BatchStatus.exported: "Envoyé à la banque",
    BatchStatus.settled: "Réglé",
    BatchStatus.partially_settled: "Partiellement réglé",
    BatchStatus.cancelled: "Annulé",
}

# Keyed by value so that a state added to the enum (``cancelled``) has its word already.
TRANSFER_STATUS: dict[str, str] = {
    TransferStatus.pending: "En attente de la banque",
    TransferStatus.settled: "Payé",
    TransferStatus.returned: "Retourné par la banque",
    "cancelled": "Annulé",
}

DIRECTION: dict[str, str] = {"DBIT": "Débit", "CRDT": "Crédit"}

# ISO 20022 ExternalReturnReason1Code, the ones SEPA credit transfers come back with.
RETURN_REASONS: dict[str, str] = {
    "AC01": "IBAN incorrect",
    "AC04": "Compte clôturé",
    "AC06": "Compte bloqué",
    "AC13": "Compte d'un particulier",
    "AG01": "Opération interdite sur ce compte",
    "AG02": "Code d'opération invalide",
    "AM04": "Provision insuffisante",
    "AM05": "Paiement en double",
    "BE04": "Adresse du bénéficiaire manquante",
    "BE05": "Donneur d'ordre non reconnu",
    "CNOR": "Banque du bénéficiaire injoignable",
    "CUST": "À la demande du client",
    "DNOR": "Banque du donneur d'ordre injoignable",
    "DUPL": "Paiement en double",
    "ED05": "Règlement échoué",
    "FF01": "Format de fichier invalide",
    "FOCR": "Retour après une demande d'annulation",
    "FRAD": "Fraude présumée",
    "MD07": "Titulaire du compte décédé",
    "MS02": "Refus du bénéficiaire",
    "MS03": "Motif non précisé par la banque",
    "NARR": "Motif précisé par la banque dans le relevé",
    "RC01": "BIC incorrect",
    "RR01": "Motif réglementaire : identification du compte manquante",
    "RR02": "Motif réglementaire : nom ou adresse du donneur d'ordre manquant",
    "RR03": "Motif réglementaire : nom ou adresse du bénéficiaire manquant",
    "RR04": "Motif réglementaire",
    "SL01": "Service particulier de la banque",
    "TECH": "Problème technique",
    "TM01": "Reçu après l'heure limite",
    "RJCT": "Rejeté par la banque",
}


def return_reason(code: str | None) -> str:
    """'AC04 — Compte clôturé'; a code we do not know is shown as the bank wrote it."""
    if not code:
        return "Motif non communiqué par la banque"
    label = RETURN_REASONS.get(code.upper())
    return f"{code} — {label}" if label else f"Motif {code}"
