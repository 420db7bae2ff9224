"""status link requests: every request to have a lost status link sent again, for the
throttle (the SIRET and e-mail as a hash only)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import voucher_service.core.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_link_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "requested_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_link_request")),
    )
    with op.batch_alter_table("status_link_request", schema=None) as batch_op:
        for column in ("key_hash", "address", "requested_at"):
            batch_op.create_index(
                batch_op.f(f"ix_status_link_request_{column}"), [column], unique=False
            )


def downgrade() -> None:
    op.drop_table("status_link_request")
