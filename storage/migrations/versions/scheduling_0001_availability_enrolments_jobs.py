"""scheduling: examiners' availability, enrolments, APScheduler job store

Revision ID: scheduling_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from proctorbot.storage.db import UtcDateTime

revision = "scheduling_0001"
down_revision = None
branch_labels = ("scheduling",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "scheduling_availability",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "person_id",
            sa.String(32),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("exams", sa.String(500), nullable=False),
    )
    op.create_index(
        "ix_scheduling_availability_person_id", "scheduling_availability", ["person_id"]
    )
    op.create_table(
        "scheduling_enrolments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "person_id",
            sa.String(32),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("exam", sa.String(300), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.UniqueConstraint("person_id"),
    )
    op.create_table(
        "scheduling_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_scheduling_jobs_next_run_time", "scheduling_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_index("ix_scheduling_jobs_next_run_time", table_name="scheduling_jobs")
    op.drop_table("scheduling_jobs")
    op.drop_table("scheduling_enrolments")
    op.drop_index("ix_scheduling_availability_person_id", table_name="scheduling_availability")
    op.drop_table("scheduling_availability")
