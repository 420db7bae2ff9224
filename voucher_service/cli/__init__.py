"""`voucher-service`: serve, migrate, deliver e-mail, manage accounts, keys and cheques,
export for accounting, check the audit trail. One module per area registers its commands."""

from voucher_service.cli import accounts, applications, audit, cheques, exports, server
from voucher_service.cli.base import app

__all__ = ["accounts", "app", "applications", "audit", "cheques", "exports", "server"]
