from voucher_service.core.errors import Conflict, InternalError, NotFound


class UnknownEvent(InternalError):
    """A domain asked for a message that has no template: a programming error."""

    code = "unknown_notification_event"
    title = "Aucun modèle de message pour cet événement"


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    title = "Message introuvable"


class NotificationNotDead(Conflict):
    code = "notification_not_dead"
    title = "Seul un message en échec définitif peut être remis en file"
