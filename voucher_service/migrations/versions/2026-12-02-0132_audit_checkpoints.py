"""signed checkpoints of the audit trail

Each checkpoint signs the chain's head; the copy kept here is listed at the admin endpoint,
while the ones published outside the database are what `audit verify` trusts.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import voucher_service.core.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signed_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=88), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
