"""Template data as the domains pass it, one sample per event."""

from datetime import UTC, date, datetime
from typing import Any

PROGRAMME = {
    "programme_name": "Mon coach digital 2027",
    "programme_contact": "moncoachdigital@maregionsud.fr",
}
BUSINESS = {"company_name": "Atelier Calanques SARL", "contact_name": "Élodie Martin"}
STATUS_URL = "http://testserver/status/4f1c2b9e8d7a"
REDEEMED_AT = datetime(2027, 3, 14, 9, 30, tzinfo=UTC)

SAMPLES: dict[str, dict[str, Any]] = {
    "application_received": {**BUSINESS, "status_url": STATUS_URL, "reference": "MCD-2027-0042"},
    "application_needs_review": {
        **BUSINESS,
        "status_url": STATUS_URL,
        "reference": "MCD-2027-0042",
        "reasons": ["Le registre des entreprises n'a pas répondu", "Effectif à confirmer"],
    },
    "application_approved": {
        **BUSINESS,
        "status_url": STATUS_URL,
        "voucher_code": "MCD-7K3Q-9PXA",
        "amount_cents": 200_000,
        "valid_until": date(2027, 9, 30),
    },
    "application_rejected": {
        **BUSINESS,
        "status_url": STATUS_URL,
        "reason": "L'établissement n'est pas situé dans la région.",
    },
    "application_correction_requested": {
        **BUSINESS,
        "status_url": STATUS_URL,
        "reference": "MCD-2027-0042",
        "request": "Merci de préciser l'adresse de l'établissement qui bénéficiera du chèque.",
    },
    "voucher_redeemed": {
        **BUSINESS,
        "voucher_code": "MCD-7K3Q-9PXA",
        "amount_cents": 200_000,
        "balance_cents": 0,
        "expert_name": "Numérique Provence Conseil",
        "redeemed_at": REDEEMED_AT,
    },
    "redemption_receipt": {
        "expert_name": "Numérique Provence Conseil",
        "voucher_code": "MCD-7K3Q-9PXA",
        "company_name": "Atelier Calanques SARL",
        "amount_cents": 200_000,
        "invoice_reference": "F-2027-118",
        "redeemed_at": REDEEMED_AT,
        "cancel_until": datetime(2027, 3, 16, 9, 30, tzinfo=UTC),
    },
    "redemption_cancelled": {
        "expert_name": "Numérique Provence Conseil",
        "company_name": "Atelier Calanques SARL",
        "voucher_code": "MCD-7K3Q-9PXA",
        "amount_cents": 200_000,
    },
    "voucher_expiring": {
        **BUSINESS,
        "voucher_code": "MCD-7K3Q-9PXA",
        "valid_until": date(2027, 9, 30),
        "balance_cents": 200_000,
        "status_url": STATUS_URL,
    },
    "voucher_cancelled": {
        **BUSINESS,
        "voucher_code": "MCD-7K3Q-9PXA",
        "reason": "Entreprise radiée du registre.",
    },
    "payout_sent": {
        "expert_name": "Numérique Provence Conseil",
        "total_cents": 400_000,
        "executed_on": date(2027, 4, 2),
        "cheques": [
            {"code": "MCD-7K3Q-9PXA", "amount_cents": 200_000, "invoice_reference": "FA-2027-0412"},
            {"code": "MCD-4MZT-2WQE", "amount_cents": 200_000, "invoice_reference": "FA-2027-0413"},
        ],
    },
    "audit_checkpoint": {
        "seq": 1284,
        "signed_at": datetime(2027, 3, 14, 10, 0, tzinfo=UTC),
        "checkpoint_json": '{\n  "seq": 1284,\n  "hash": "5e1f…"\n}',
    },
    "expert_invitation": {
        "expert_name": "Numérique Provence Conseil",
        "invitation_url": "http://testserver/invitation/Zx81",
        "expires_at": datetime(2027, 3, 21, 17, 0, tzinfo=UTC),
    },
    "expert_accredited": {
        "expert_name": "Karim Benali",
        "reason": "Dossier complet : attestation d'assurance et références vérifiées.",
        "expert_url": "http://testserver/expert",
    },
    "expert_suspended": {
        "expert_name": "Karim Benali",
        "reason": "Votre attestation d'assurance professionnelle a expiré le 28/02/2027.",
        "expert_url": "http://testserver/expert",
    },
    "expert_revoked": {
        "expert_name": "Karim Benali",
        "reason": "Prestations facturées sans accompagnement réel, constaté par trois entreprises.",
    },
    "expert_bank_details_refused": {
        "expert_name": "Karim Benali",
        "iban_last4": "0189",
        "current_iban_last4": "4521",
        "reason": "Le RIB joint est au nom d'une autre société que la vôtre.",
    },
    "status_link": {
        **BUSINESS,
        "status_url": STATUS_URL,
        "reference": "MCD-2027-0042",
        "created_at": REDEEMED_AT,
    },
    "password_reset": {
        "reset_url": "http://testserver/password-reset/Qm42",
        "expires_at": datetime(2027, 3, 14, 10, 0, tzinfo=UTC),
        "minutes": 30,
    },
    "account_created": {
        "reset_url": "http://testserver/password-reset/Ak77",
        "expires_at": datetime(2027, 3, 21, 10, 0, tzinfo=UTC),
        "role_label": "Comptable",
    },
}


def sample(event: str, **overrides: Any) -> dict[str, Any]:
    return {**PROGRAMME, **SAMPLES[event], **overrides}
