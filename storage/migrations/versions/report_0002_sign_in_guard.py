"""report: sign-in attempt counters and one-time sign-in links

Revision ID: report_0002
Revises: report_0001
"""

import sqlalchemy as sa
from alembic import op

from proctorbot.storage.db import UtcDateTime

revision = "report_0002"
down_revision = "report_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_sign_in_counters",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "report_sign_in_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "person_id",
            sa.String(32),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("report_sign_in_links")
    op.drop_table("report_sign_in_counters")
