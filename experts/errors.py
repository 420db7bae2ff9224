from voucher_service.core.errors import Conflict, Forbidden, Gone, NotFound


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
