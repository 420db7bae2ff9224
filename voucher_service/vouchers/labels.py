"""The French words people read for a cheque's states and the steps of its history: the one
place the back office takes them from (a code never reaches a page)."""

from voucher_service.vouchers.models import VoucherStatus

STATUS: dict[str, str] = {
    VoucherStatus.issued: "Valable",
    VoucherStatus.partially_redeemed: "Valable, utilisé en partie",
    VoucherStatus.redeemed: "Utilisé",
    VoucherStatus.paid: "Utilisé et payé",
    VoucherStatus.expired: "Expiré",
    VoucherStatus.cancelled: "Annulé",
}

EVENTS: dict[str, str] = {
    "issued": "Émis",
    "redeemed": "Utilisé par l'expert",
    "redemption_undone": "Utilisation annulée par l'expert",
    "paid": "Payé à l'expert",
    "unpaid": "Paiement à l'expert annulé",
    "cancelled": "Annulé",
    "expired": "Expiré",
}


def event(action: str) -> str:
    """A step of the history; one this module does not know yet is still said in French."""
    return EVENTS.get(action, "Autre étape")


def actor(role: str, label: str) -> str:
    """Who took a step: a person's login, or what ran on its own."""
    if role == "public":
        return "Demande en ligne"
    if role == "system" or not label:
        return "Traitement automatique"
    return label
