"""when a batch's SEPA file was produced

The file's creation time and requested execution date come from the first download of
each Paris day, so that downloads of the same day are byte-identical.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voucher_service.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payout_batch", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "file_created_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("payout_batch", schema=None) as batch_op:
        batch_op.drop_column("file_created_at")
