"""Every table of every domain, imported once so that SQLModel's metadata knows them all
(for Alembic and for the tests)."""

from notifications.models import Notification, NotificationAttachment
from voucher_service.core.audit import AuditEvent, AuditHead
from voucher_service.core.auth.models import LoginFailure, User

__all__ = [
    "AuditEvent",
    "AuditHead",
    "LoginFailure",
    "Notification",
    "NotificationAttachment",
    "User",
]
