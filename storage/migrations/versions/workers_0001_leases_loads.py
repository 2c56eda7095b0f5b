"""workers: bot leases and worker loads

Revision ID: workers_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from proctorbot.storage.db import UtcDateTime

revision = "workers_0001"
down_revision = None
branch_labels = ("workers",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "worker_bot_leases",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("worker_id", sa.String(200), nullable=False),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=False),
        sa.Column("taken_at", UtcDateTime(), nullable=False),
        sa.Column("takeovers", sa.Integer(), nullable=False),
    )
    op.create_table(
        "worker_loads",
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("running_bots", sa.Integer(), nullable=False),
        sa.Column("cpu_load", sa.Float(), nullable=False),
        sa.Column("load", sa.Float(), nullable=False),
        sa.Column("reported_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_loads")
    op.drop_table("worker_bot_leases")
