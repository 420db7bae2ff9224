"""login_success: where each account last logged in from

The login throttle does not slow an account's owner down from an address the account
logged in from recently, whatever others try from elsewhere.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import voucher_service.core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_success",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "last_login_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_success")),
        sa.UniqueConstraint("email", "address", name=op.f("uq_login_success_email_address")),
    )


def downgrade() -> None:
    op.drop_table("login_success")
