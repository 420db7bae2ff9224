"""audit head row

The chain's head row exists from the start, so that the first writers lock it rather than
race to create it. On a database that already has events, it continues from the last one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO audit_head (id, seq, last_hash) SELECT 1, "
            "COALESCE((SELECT seq FROM audit_event ORDER BY seq DESC LIMIT 1), 0), "
            "COALESCE((SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1), :genesis) "
            "WHERE NOT EXISTS (SELECT 1 FROM audit_head)"
        ).bindparams(genesis=GENESIS)
    )


def downgrade() -> None:
    """The row stays: it is the chain's state, and 0009's code creates it when absent."""
