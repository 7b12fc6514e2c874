"""Complaints become improvements: their life cycle (open, owned, resolved) and where they were posted.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One row per complaint the bot tracks; complaints stored before this stay open, unposted."""
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("owner", sa.String(32), nullable=True),
        sa.Column("owned_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(32), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolution_seconds", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("posted_at", UTCDateTime(), nullable=True),
        sa.Column("post_claimed_at", UTCDateTime(), nullable=True),
        sa.Column("post_check_since", UTCDateTime(), nullable=True),
        sa.Column("post_error", sa.String(64), nullable=True),
        sa.UniqueConstraint("story_id", name="uq_complaint_story"),
    )
    op.create_index("ix_complaints_workspace_state", "complaints", ["workspace_id", "state", "opened_at"])
    op.create_index("ix_complaints_workspace_resolved", "complaints", ["workspace_id", "resolved_at"])


def downgrade() -> None:
    """Drops the life cycle; the complaint stories themselves stay."""
    op.drop_index("ix_complaints_workspace_resolved", table_name="complaints")
    op.drop_index("ix_complaints_workspace_state", table_name="complaints")
    op.drop_table("complaints")
