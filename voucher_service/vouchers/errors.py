from voucher_service.core.errors import Conflict, Gone, InternalError, NotFound, Unprocessable


class InvalidToken(Unprocessable):
    code = "invalid_token"
    title = "Chèque illisible ou falsifié"


class UnknownSigningKey(Unprocessable):
    code = "unknown_signing_key"
    title = "Chèque signé par une clé inconnue ou retirée"


class VoucherNotFound(NotFound):
    code = "voucher_not_found"
    title = "Chèque introuvable"


class VoucherExpired(Gone):
    code = "expired"
    title = "Chèque expiré"


class VoucherCancelled(Gone):
    code = "cancelled"
    title = "Chèque annulé"


class VoucherNotYetValid(Conflict):
    code = "not_yet_valid"
    title = "Chèque pas encore valable"


class AlreadyRedeemed(Conflict):
    code = "already_redeemed"
    title = "Chèque déjà utilisé"


class InsufficientBalance(Conflict):
    code = "insufficient_balance"
    title = "Solde du chèque insuffisant"


class InvalidAmount(Unprocessable):
    code = "invalid_amount"
    title = "Le montant doit être un nombre positif de centimes"


class VoucherNotCancellable(Conflict):
    code = "not_cancellable"
    title = "Ce chèque ne peut plus être annulé"


class VoucherAlreadyPaid(Conflict):
    code = "already_paid"
    title = "Chèque déjà payé à l'expert"


class NothingToGiveBack(Conflict):
    code = "nothing_to_give_back"
    title = "Aucune utilisation de ce montant à annuler sur ce chèque"


class VouchersNotPayable(Conflict):
    code = "not_payable"
    title = "Seuls les chèques entièrement utilisés et non payés peuvent être payés"


class VouchersNotPaid(Conflict):
    code = "not_paid"
    title = "Ces chèques ne sont pas marqués payés"


class SigningKeyNotFound(NotFound):
    code = "signing_key_not_found"
    title = "Clé de signature introuvable"


class ActiveKeyRetirement(Conflict):
    code = "active_signing_key"
    title = "La clé active ne peut être retirée : faites d'abord « keys rotate »"


class SigningKeyInUse(Conflict):
    code = "signing_key_in_use"
    title = "Des chèques en cours sont signés par cette clé"


class SigningKeyUnreadable(InternalError):
    code = "signing_key_unreadable"
    title = "La clé de signature ne peut pas être déchiffrée"
