"""review tools: private notes by staff, the exchanges with the applicant (correction
requests and answers), and the `correction_requested` status among the live ones

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 19:20:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import voucher_service.core.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_LIVE = "status IN ('eligible', 'needs_review', 'approved')"
NEW_LIVE = "status IN ('eligible', 'needs_review', 'correction_requested', 'approved')"


def _text_rows(table: str, *extra: sa.Column[Any]) -> None:
    """A table of texts about an application, in time order."""
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        *extra,
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("created_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f(f"fk_{table}_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f(f"fk_{table}_author_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f(f"ix_{table}_application_id"), ["application_id"], unique=False
        )


def _live_index(where: str) -> None:
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_index("uq_application_live_siren")
        batch_op.create_index(
            "uq_application_live_siren",
            ["programme_id", "siren"],
            unique=True,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def upgrade() -> None:
    _text_rows("application_note", sa.Column("author_id", sa.Integer(), nullable=False))
    kind = sa.Enum(
        "correction_request",
        "correction_answer",
        name="exchangekind",
        native_enum=False,
        length=30,
    )
    _text_rows(
        "application_exchange",
        sa.Column("kind", kind, nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
    )
    _live_index(NEW_LIVE)


def downgrade() -> None:
    # Waiting for a correction becomes waiting for review: the old code knows no other.
    op.execute(
        "UPDATE application SET status = 'needs_review' WHERE status = 'correction_requested'"
    )
    _live_index(OLD_LIVE)
    op.drop_table("application_exchange")
    op.drop_table("application_note")
