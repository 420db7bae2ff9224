"""Every table of every domain, imported once so that SQLModel's metadata knows them all
(for Alembic and for the tests)."""

from experts.models import (
    AccreditationChange,
    Expert,
    Invitation,
    Redemption,
    RedemptionAttempt,
)
from notifications.models import Notification, NotificationAttachment
from voucher_service.applications.models import Application
from voucher_service.core.audit import AuditEvent, AuditHead
from voucher_service.core.audit_checkpoints import AuditCheckpoint
from voucher_service.core.auth.models import LoginFailure, User
from voucher_service.core.idempotency import IdempotencyRecord
from voucher_service.core.ledger import LedgerEntry
from voucher_service.payouts.models import (
    BankStatementImport,
    PayoutBatch,
    PayoutItem,
    PayoutTransfer,
    StatementLine,
)
from voucher_service.programmes.models import Programme, ProgrammeRulesVersion
from voucher_service.vouchers.models import SigningKey, Voucher, VoucherEvent

__all__ = [
    "AccreditationChange",
    "Application",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "BankStatementImport",
    "Expert",
    "IdempotencyRecord",
    "Invitation",
    "LedgerEntry",
    "LoginFailure",
    "Notification",
    "NotificationAttachment",
    "PayoutBatch",
    "PayoutItem",
    "PayoutTransfer",
    "Programme",
    "ProgrammeRulesVersion",
    "Redemption",
    "RedemptionAttempt",
    "SigningKey",
    "StatementLine",
    "User",
    "Voucher",
    "VoucherEvent",
]
