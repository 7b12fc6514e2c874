"""Indexes that let the customer of the week be chosen in the database.

Revision ID: 0006
Revises: 0005
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Filled in with the selection's indexes."""


def downgrade() -> None:
    """Filled in with the selection's indexes."""
