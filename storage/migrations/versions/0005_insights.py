"""Indexes for insights and references, so their figures are computed in the database.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (index, table, columns): what storage/insights.py filters and orders by, workspace first.
INDEXES = (
    # Open complaints (oldest first) and the weekly counts per kind.
    ("ix_stories_workspace_kind_created", "stories", ["workspace_id", "kind", "created_at"]),
    # References: public stories, newest first.
    ("ix_stories_workspace_consent_created", "stories", ["workspace_id", "consent", "created_at"]),
    # Channels gone quiet: a story logged in the channel lately.
    ("ix_stories_workspace_channel_created", "stories", ["workspace_id", "channel", "created_at"]),
    # Story posts (featured) and their reactions over the last weeks.
    ("ix_posts_workspace_kind_time", "posts", ["workspace_id", "kind", "posted_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
