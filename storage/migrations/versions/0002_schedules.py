"""Channels, schedules, slot claims, posts, reactions, custom prompts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _workspace_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace_fk(),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("skip_dates", sa.JSON(), nullable=False),
        sa.Column("last_prompt", sa.Text(), nullable=True),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.UniqueConstraint("workspace_id", "channel_id", name="uq_channel"),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "channel_row_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("weekdays", sa.String(32), nullable=False),
        sa.Column("time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("channel_row_id", "kind", name="uq_schedule_kind"),
    )
    op.create_table(
        "slot_claims",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace_fk(),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("slot_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False, server_default=""),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.UniqueConstraint("workspace_id", "channel_id", "kind", "slot_at", name="uq_slot"),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace_fk(),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("stories.id", ondelete="SET NULL"), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("channel_id", "ts", name="uq_post_ts"),
    )
    op.create_index("ix_posts_channel_time", "posts", ["workspace_id", "channel_id", "posted_at"])
    op.create_table(
        "reactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace_fk(),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("reaction", sa.String(100), nullable=False),
        sa.UniqueConstraint("channel_id", "ts", "user_id", "reaction", name="uq_reaction"),
    )
    op.create_table(
        "custom_prompts",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace_fk(),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("custom_prompts", "reactions", "posts", "slot_claims", "schedules", "channels"):
        op.drop_table(table)
