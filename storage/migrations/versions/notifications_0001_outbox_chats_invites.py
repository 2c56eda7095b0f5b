"""notifications: outbox, linked Telegram chats, invite codes

Revision ID: notifications_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from proctorbot.storage.db import UtcDateTime

revision = "notifications_0001"
down_revision = None
branch_labels = ("notifications",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "notifications_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "person_id", sa.String(32), sa.ForeignKey("people.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("session_id", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachment_path", sa.String(1000), nullable=True),
        sa.Column("attachment_kind", sa.String(16), nullable=True),
        sa.Column("link", sa.String(2000), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(200), nullable=True, unique=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
    )
    op.create_index(
        "ix_notifications_outbox_status_due", "notifications_outbox", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_notifications_outbox_address", "notifications_outbox", ["channel", "address", "id"]
    )
    op.create_table(
        "notifications_chats",
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column(
            "person_id", sa.String(32), sa.ForeignKey("people.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("linked_at", UtcDateTime(), nullable=False),
        sa.Column("blocked_at", UtcDateTime(), nullable=True),
        sa.Column("muted", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "notifications_invites",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column(
            "person_id", sa.String(32), sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.Column("used_by_chat", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("notifications_invites")
    op.drop_table("notifications_chats")
    op.drop_index("ix_notifications_outbox_address", table_name="notifications_outbox")
    op.drop_index("ix_notifications_outbox_status_due", table_name="notifications_outbox")
    op.drop_table("notifications_outbox")
