"""The OAuth tables of slack_sdk's SQLAlchemy installation and state stores.

Revision ID: 0003
Revises: 0002

Until now the bot created these with `metadata.create_all` at start in OAuth mode. Databases
that already have them keep them as they are (same columns, same index): the migration only
creates what is missing, and from here on Alembic is the only owner of the schema.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def _index_missing(table: str, index: str) -> bool:
    return index not in {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}


def _bot_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    """The columns slack_bots and slack_installations share, in slack_sdk's order."""
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("enterprise_name", sa.String(200), nullable=True),
    ]


def _bot_token_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("bot_token", sa.String(200), nullable=True),
        sa.Column("bot_id", sa.String(32), nullable=True),
        sa.Column("bot_user_id", sa.String(32), nullable=True),
        sa.Column("bot_scopes", sa.String(1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(200), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    if _missing("slack_installations"):
        op.create_table(
            "slack_installations",
            *_bot_columns(),
            sa.Column("enterprise_url", sa.String(200), nullable=True),
            sa.Column("team_id", sa.String(32), nullable=True),
            sa.Column("team_name", sa.String(200), nullable=True),
            *_bot_token_columns(),
            sa.Column("user_id", sa.String(32), nullable=False),
            sa.Column("user_token", sa.String(200), nullable=True),
            sa.Column("user_scopes", sa.String(1000), nullable=True),
            sa.Column("user_refresh_token", sa.String(200), nullable=True),
            sa.Column("user_token_expires_at", sa.DateTime(), nullable=True),
            sa.Column("incoming_webhook_url", sa.String(200), nullable=True),
            sa.Column("incoming_webhook_channel", sa.String(200), nullable=True),
            sa.Column("incoming_webhook_channel_id", sa.String(200), nullable=True),
            sa.Column("incoming_webhook_configuration_url", sa.String(200), nullable=True),
            sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
            sa.Column("token_type", sa.String(32), nullable=True),
            sa.Column("installed_at", sa.DateTime(), nullable=False),
        )
    if _index_missing("slack_installations", "slack_installations_idx"):
        op.create_index(
            "slack_installations_idx",
            "slack_installations",
            ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
        )
    if _missing("slack_bots"):
        op.create_table(
            "slack_bots",
            *_bot_columns(),
            sa.Column("team_id", sa.String(32), nullable=True),
            sa.Column("team_name", sa.String(200), nullable=True),
            *_bot_token_columns(),
            sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
            sa.Column("installed_at", sa.DateTime(), nullable=False),
        )
    if _index_missing("slack_bots", "slack_bots_idx"):
        op.create_index(
            "slack_bots_idx", "slack_bots", ["client_id", "enterprise_id", "team_id", "installed_at"]
        )
    if _missing("slack_oauth_states"):
        op.create_table(
            "slack_oauth_states",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("state", sa.String(200), nullable=False),
            sa.Column("expire_at", sa.DateTime(), nullable=False),
        )


def downgrade() -> None:
    for table in ("slack_oauth_states", "slack_bots", "slack_installations"):
        op.drop_table(table)
