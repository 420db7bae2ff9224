"""notifications outbox: one row per message to deliver, and its attachments

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-28 22:48:40.365487
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import voucher_service.core.db

revision: str = "0004"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "sent",
                "dead",
                name="notificationstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "locked_until", voucher_service.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("lease_token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("created_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", voucher_service.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_dedupe_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_notification_message_id")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index("ix_notification_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "notification_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_notification_attachment_notification_id_notification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attachment")),
    )
    with op.batch_alter_table("notification_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_attachment_notification_id"),
            ["notification_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_attachment_notification_id"))

    op.drop_table("notification_attachment")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_due")
        batch_op.drop_index(batch_op.f("ix_notification_created_at"))

    op.drop_table("notification")
