"""report: finding decisions, audit log, legal holds, retention purges

Revision ID: report_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from proctorbot.storage.db import UtcDateTime

revision = "report_0001"
down_revision = None
branch_labels = ("report",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "report_finding_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(32), sa.ForeignKey("exam_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("finding_id", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(32), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_report_finding_decisions_session", "report_finding_decisions", ["session_id", "finding_id"])
    op.create_table(
        "report_audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("organization_id", sa.String(32), nullable=True),
        sa.Column("person_id", sa.String(32), nullable=True),
        sa.Column("session_id", sa.String(32), nullable=True),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("remote", sa.String(100), nullable=False),
    )
    op.create_index("ix_report_audit_log_session", "report_audit_log", ["session_id"])
    op.create_table(
        "report_legal_holds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(32), sa.ForeignKey("exam_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(32), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("placed_at", UtcDateTime(), nullable=False),
        sa.Column("released_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "report_retention_purges",
        sa.Column("session_id", sa.String(32), sa.ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("purged_at", UtcDateTime(), nullable=False),
        sa.Column("files_deleted", sa.Integer(), nullable=False),
        sa.Column("bytes_deleted", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_retention_purges")
    op.drop_table("report_legal_holds")
    op.drop_index("ix_report_audit_log_session", table_name="report_audit_log")
    op.drop_table("report_audit_log")
    op.drop_index("ix_report_finding_decisions_session", table_name="report_finding_decisions")
    op.drop_table("report_finding_decisions")
