"""a per-user session epoch, so that logins can be ended server-side

Every bearer token and session cookie carries the user's epoch; logout, a password or role
change and deactivation raise it, which refuses every token issued before. Tokens issued
before this migration carry no epoch and are refused: everyone logs in again once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
