from voucher_service.core.errors import Conflict, NotFound


class ApplicationNotFound(NotFound):
    code = "application_not_found"
    title = "Demande introuvable"


class DuplicateApplication(Conflict):
    code = "duplicate_application"
    title = "Une demande est déjà en cours pour cette entreprise et ce programme"


class InvalidState(Conflict):
    code = "invalid_state"
    title = "L'état de la demande ne permet pas cette action"
