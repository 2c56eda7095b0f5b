"""conference (Janus media plane): which instance and VideoRoom holds each session's call

Revision ID: conference_janus_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from proctorbot.storage.db import UtcDateTime

revision = "conference_janus_0001"
down_revision = None
branch_labels = ("conference_janus",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "conference_janus_rooms",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("instance_url", sa.String(300), nullable=False),
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("rec_dir", sa.String(1000), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_conference_janus_rooms_instance_url", "conference_janus_rooms", ["instance_url"]
    )


def downgrade() -> None:
    op.drop_index("ix_conference_janus_rooms_instance_url", "conference_janus_rooms")
    op.drop_table("conference_janus_rooms")
