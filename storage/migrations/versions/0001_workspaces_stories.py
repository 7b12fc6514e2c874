"""Workspaces and stories.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("improvement_channel", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("team_id", "enterprise_id", name="uq_workspace_team"),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("customer", sa.String(200), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False, server_default=""),
        sa.Column("impact", sa.Text(), nullable=False, server_default=""),
        sa.Column("kind", sa.String(16), nullable=False, server_default="praise"),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("credited", sa.JSON(), nullable=False),
        sa.Column("consent", sa.String(16), nullable=False, server_default="internal"),
        sa.Column("source", sa.Text(), nullable=False, server_default=""),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_stories_workspace_created", "stories", ["workspace_id", "created_at"])
    op.create_index("ix_stories_workspace_author", "stories", ["workspace_id", "author"])


def downgrade() -> None:
    op.drop_table("stories")
    op.drop_table("workspaces")
