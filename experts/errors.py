from voucher_service.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    TooManyRequests,
    Unprocessable,
)


class ExpertNotFound(NotFound):
    code = "expert_not_found"
    title = "Expert introuvable"


class ExpertExists(Conflict):
    code = "expert_exists"
    title = "Un expert existe déjà avec cette adresse e-mail"


class TransitionRefused(Conflict):
    code = "invalid_state"
    title = "Ce changement d'accréditation n'est pas possible depuis l'état actuel"


class NoPendingBankDetails(Conflict):
    code = "no_pending_bank_details"
    title = "Aucune modification de coordonnées bancaires n'attend de confirmation"


class NotAccredited(Forbidden):
    code = "not_accredited"
    title = "Votre accréditation ne permet pas d'encaisser de chèque"


class InvitationInvalid(Gone):
    code = "invitation_invalid"
    title = "Ce lien d'invitation n'est plus valable"


class InvitationAlreadyAccepted(Conflict):
    code = "invitation_already_accepted"
    title = "L'expert a déjà choisi son mot de passe"


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    title = "Utilisation de chèque introuvable"


class NotYourRedemption(Forbidden):
    code = "not_your_redemption"
    title = "Seul l'expert qui a encaissé ce chèque peut annuler cette opération"


class RedeemedByAnotherExpert(Conflict):
    code = "redeemed_by_another_expert"
    title = "Ce chèque a déjà été utilisé en partie par un autre expert"


class UndoWindowClosed(Conflict):
    code = "undo_window_closed"
    title = "Le délai d'annulation est dépassé"


class AlreadyInPayout(Conflict):
    code = "in_payout"
    title = "Cette opération est déjà dans un virement et ne peut plus être annulée"


class RedemptionCancelled(Conflict):
    code = "redemption_cancelled"
    title = "Cette opération a déjà été annulée"


class TooManyFailedRedemptions(TooManyRequests):
    code = "too_many_failed_attempts"
    title = "Trop de tentatives refusées : patientez quelques minutes"


class InvalidCoachingDate(Unprocessable):
    code = "invalid_coaching_date"
    title = "Date de l'accompagnement impossible"

    def __init__(self, detail: str) -> None:
        loc: list[str | int] = ["body", "coaching_date"]
        super().__init__(detail, errors=[{"loc": loc, "msg": detail, "type": self.code}])
