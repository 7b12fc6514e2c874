"""Fan-out at Slack's rate: direct messages owed after a slot, and pacing shared by processes.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owed_dms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("occasion_kind", sa.String(16), nullable=False),
        sa.Column("occasion_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="owed"),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("owner", sa.String(64), nullable=False, server_default=sa.text("''")),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("dm_channel", sa.String(32), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.UniqueConstraint(
            "workspace_id", "story_id", "user_id", "occasion_kind", "occasion_at", name="uq_owed_dm"
        ),
    )
    op.create_index("ix_owed_dms_status_due", "owed_dms", ["status", "not_before"])
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("tat", sa.Float(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_index("ix_owed_dms_status_due", table_name="owed_dms")
    op.drop_table("owed_dms")
