from typing import TYPE_CHECKING, Any

from voucher_service.core.errors import Conflict, NotFound, TooManyRequests

if TYPE_CHECKING:
    from voucher_service.applications.models import Application


class ApplicationNotFound(NotFound):
    code = "application_not_found"
    title = "Demande introuvable"


class DuplicateApplication(Conflict):
    code = "duplicate_application"
    title = "Une demande est déjà en cours pour cette entreprise et ce programme"

    def __init__(
        self, detail: str | None = None, existing: "Application | None" = None, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.existing = existing  # set only for whoever made the existing application


class InvalidState(Conflict):
    code = "invalid_state"
    title = "L'état de la demande ne permet pas cette action"


class ChequeNotIssued(NotFound):
    code = "cheque_not_issued"
    title = "Aucun chèque n'a encore été émis pour cette demande"


class TooManyStatusLinkRequests(TooManyRequests):
    code = "too_many_status_link_requests"
    title = "Trop de demandes de lien de suivi depuis cette adresse"


class CorrectionPending(InvalidState):
    code = "correction_pending"
    title = "Un complément a été demandé au demandeur : la demande attend sa réponse"


class NoCorrectionRequested(InvalidState):
    code = "no_correction_requested"
    title = "Aucun complément n'est attendu pour cette demande"
