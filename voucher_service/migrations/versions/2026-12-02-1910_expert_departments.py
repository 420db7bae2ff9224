"""expert.departments: the départements where an expert coaches, which the back office
filters on

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("expert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("departments", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("expert", schema=None) as batch_op:
        batch_op.drop_column("departments")
