"""scheduling: examiner panels (several examiners per session)

Revision ID: scheduling_0002
Revises: scheduling_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "scheduling_0002"
down_revision = "scheduling_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduling_availability") as batch:
        batch.add_column(
            sa.Column("panel", sa.String(100), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduling_availability") as batch:
        batch.drop_column("panel")
