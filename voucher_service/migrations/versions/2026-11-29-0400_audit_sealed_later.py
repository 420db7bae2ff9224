"""audit events sealed after their commit

An event is inserted with its transaction and chained afterwards by a sealer, so its
sequence number and hashes are empty until then.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAIN = {
    "seq": sa.Integer(),
    "prev_hash": sqlmodel.sql.sqltypes.AutoString(length=64),
    "hash": sqlmodel.sql.sqltypes.AutoString(length=64),
}


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        for column, type_ in CHAIN.items():
            batch_op.alter_column(column, existing_type=type_, nullable=True)


def downgrade() -> None:
    """Events still unsealed cannot go back to a schema that requires a chain: refused."""
    unsealed = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_event WHERE seq IS NULL"))
    if unsealed.scalar_one():
        raise RuntimeError("seal the audit events first: voucher-service audit verify")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        for column, type_ in CHAIN.items():
            batch_op.alter_column(column, existing_type=type_, nullable=False)
