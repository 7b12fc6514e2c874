"""Complaints become improvements: their life cycle (open, owned, resolved) and where they were posted.

Revision ID: 0004
Revises: 0003
"""

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Filled in with the complaint life cycle."""


def downgrade() -> None:
    """Filled in with the complaint life cycle."""
