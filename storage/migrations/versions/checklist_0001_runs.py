"""checklist: runs and their transitions

Revision ID: checklist_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from proctorbot.storage.db import UtcDateTime

revision = "checklist_0001"
down_revision = None
branch_labels = ("checklist",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "checklist_runs",
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("exam_sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("current_step", sa.String(24), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("consent_given", sa.Boolean(), nullable=True),
        sa.Column("consent_at", UtcDateTime(), nullable=True),
        sa.Column("consent_text_version", sa.String(32), nullable=True),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "checklist_transitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("exam_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("step", sa.String(24), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("actor_name", sa.String(300), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.UniqueConstraint("session_id", "seq"),
    )
    op.create_index("ix_checklist_transitions_session_id", "checklist_transitions", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_checklist_transitions_session_id", "checklist_transitions")
    op.drop_table("checklist_transitions")
    op.drop_table("checklist_runs")
