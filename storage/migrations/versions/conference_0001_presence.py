"""conference: web nodes, room presence, room locks (web nodes sharing rooms)

Revision ID: conference_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from proctorbot.storage.db import UtcDateTime

revision = "conference_0001"
down_revision = None
branch_labels = ("conference",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "conference_nodes",
        sa.Column("node_id", sa.String(120), primary_key=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "conference_presence",
        sa.Column("peer_id", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("node_id", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("mic", sa.Boolean(), nullable=False),
        sa.Column("cam", sa.Boolean(), nullable=False),
        sa.Column("joined_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_conference_presence_session_id", "conference_presence", ["session_id"])
    op.create_index("ix_conference_presence_node_id", "conference_presence", ["node_id"])
    op.create_table(
        "conference_room_locks",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conference_room_locks")
    op.drop_index("ix_conference_presence_node_id", "conference_presence")
    op.drop_index("ix_conference_presence_session_id", "conference_presence")
    op.drop_table("conference_presence")
    op.drop_table("conference_nodes")
