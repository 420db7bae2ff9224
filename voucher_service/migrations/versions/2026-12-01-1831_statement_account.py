"""bank statements identified by their account and their id; cancelled transfers

Two accounts' statements may carry the same ``Stmt/Id``: the unique key of an import is
the pair, not the id alone. The transfers of batches cancelled before are cancelled too,
so that no statement settles them (the status is a VARCHAR: a new value needs no DDL).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "bank_statement_import"
BY_ID = "uq_bank_statement_import_statement_id"
BY_ACCOUNT_AND_ID = "uq_bank_statement_import_account_iban_statement_id"

CANCEL_TRANSFERS = sa.text(
    "UPDATE payout_transfer SET status = 'cancelled' WHERE status = 'pending' AND batch_id IN "
    "(SELECT id FROM payout_batch WHERE status = 'cancelled')"
)


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(BY_ID), type_="unique")
        batch_op.create_unique_constraint(op.f(BY_ACCOUNT_AND_ID), ["account_iban", "statement_id"])
    op.execute(CANCEL_TRANSFERS)


def downgrade() -> None:
    """Refused by the database when two accounts' statements share an id."""
    op.execute(sa.text("UPDATE payout_transfer SET status = 'pending' WHERE status = 'cancelled'"))
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(BY_ACCOUNT_AND_ID), type_="unique")
        batch_op.create_unique_constraint(op.f(BY_ID), ["statement_id"])
