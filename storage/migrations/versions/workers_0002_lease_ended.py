"""workers: a lease remembers that its session's bot left because the session was over

Revision ID: workers_0002
Revises: workers_0001
"""

import sqlalchemy as sa
from alembic import op
from proctorbot.storage.db import UtcDateTime

revision = "workers_0002"
down_revision = "workers_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("worker_bot_leases") as batch:
        batch.add_column(sa.Column("ended_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("ended_reason", sa.String(40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("worker_bot_leases") as batch:
        batch.drop_column("ended_reason")
        batch.drop_column("ended_at")
