"""Indexes for insights and references, so their figures are computed in the database.

Revision ID: 0005
Revises: 0004
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Filled in with the insights' indexes."""


def downgrade() -> None:
    """Filled in with the insights' indexes."""
