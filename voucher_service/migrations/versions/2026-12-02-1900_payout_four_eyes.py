"""payout_batch.prepared_by_id, approved_by_id, approved_at: four eyes on payments, a
second person approves a batch before its SEPA file is produced

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voucher_service.core.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payout_batch", schema=None) as batch_op:
        for column in ("prepared_by_id", "approved_by_id"):
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                op.f(f"fk_payout_batch_{column}_user_account"), "user_account", [column], ["id"]
            )
        batch_op.add_column(
            sa.Column(
                "approved_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("payout_batch", schema=None) as batch_op:
        batch_op.drop_column("approved_at")
        for column in ("approved_by_id", "prepared_by_id"):
            batch_op.drop_constraint(
                op.f(f"fk_payout_batch_{column}_user_account"), type_="foreignkey"
            )
            batch_op.drop_column(column)
