"""SQLAlchemy 2 typed models. Knows nothing of Slack beyond plain ID strings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# The server default '' as SQL: Alembic's SQLite comparison reads a plain "" as different from
# the '' it reflects, and would propose changing every such column.
EMPTY = text("''")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every back end (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Workspace(Base):
    """A Slack workspace (team), and its enterprise grid org where there is one."""

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("team_id", "enterprise_id", name="uq_workspace_team"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    # '' rather than NULL so that the unique constraint holds on every database.
    enterprise_id: Mapped[str] = mapped_column(String(32), default="", server_default=EMPTY)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    improvement_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StoryRow(Base):
    """A customer voice as stored; see PRODUCT.md "A story"."""

    __tablename__ = "stories"
    __table_args__ = (
        Index("ix_stories_workspace_created", "workspace_id", "created_at"),
        Index("ix_stories_workspace_author", "workspace_id", "author"),
        # Insights and references (migration 0005).
        Index("ix_stories_workspace_kind_created", "workspace_id", "kind", "created_at"),
        Index("ix_stories_workspace_consent_created", "workspace_id", "consent", "created_at"),
        Index("ix_stories_workspace_channel_created", "workspace_id", "channel", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    customer: Mapped[str] = mapped_column(String(200))
    quote: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(200), default="", server_default=EMPTY)
    impact: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    kind: Mapped[str] = mapped_column(String(16), default="praise", server_default="praise")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    credited: Mapped[list[str]] = mapped_column(JSON, default=list)
    consent: Mapped[str] = mapped_column(String(16), default="internal", server_default="internal")
    source: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    author: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32), default="", server_default=EMPTY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StoryTagRow(Base):
    """One tag of a story, as choosing a story looks it up: kept by database triggers (0006).

    `tag` is the tag trimmed, without leading '#' and case-folded, so a channel's tags find
    their stories through an index rather than by reading every story's JSON. On SQLite a tag
    that is not plain ASCII is filed under '*' (SQLite cannot fold it), and checked exactly.
    """

    __tablename__ = "story_tags"
    __table_args__ = (Index("ix_story_tags_lookup", "workspace_id", "tag", "created_at", "story_id"),)

    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(Text, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelRow(Base):
    """A channel the bot posts to: its preferences and what was last posted."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id", name="uq_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    skip_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The Slack error last reported to managers, so it is reported once, not every slot.
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)


class OwedDM(Base):
    """A direct message owed to a person whose story was featured: one per story, person and
    occasion (a scheduled slot, or an on-demand post), sent after the occasion's channel posts.

    owed -> sending -> sent | failed | uncertain (the answer was lost: never resent) | dropped
    (the story is gone, or the app was uninstalled). A rate limit puts it back to owed with a
    later not_before: it waits its turn rather than being dropped.
    """

    __tablename__ = "owed_dms"
    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "story_id", "user_id", "occasion_kind", "occasion_at", name="uq_owed_dm"
        ),
        Index("ix_owed_dms_status_due", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    # featured.dm (the author) or credited.dm (a credited colleague)
    message_id: Mapped[str] = mapped_column(String(32))
    # The slot claims' kind ("story", "ondemand") and time that featured the story.
    occasion_kind: Mapped[str] = mapped_column(String(16))
    occasion_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="owed", server_default="owed")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owner: Mapped[str] = mapped_column(String(64), default="", server_default=EMPTY)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dm_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)


class RateBucket(Base):
    """Pacing shared by every process: the theoretical arrival time (epoch seconds) of the next
    message for one key (a workspace's bot token, hashed), as in the generic cell rate algorithm."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class ScheduleRow(Base):
    """A weekly slot pattern for one channel: kind is 'story' or 'prompt'."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("channel_row_id", "kind", name="uq_schedule_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_row_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    weekdays: Mapped[str] = mapped_column(String(32))  # "mon,wed,fri"
    time: Mapped[str] = mapped_column(String(5))  # "09:00"
    timezone: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(32), default="", server_default=EMPTY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlotClaim(Base):
    """The durable claim that makes a scheduled slot post exactly once across processes."""

    __tablename__ = "slot_claims"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id", "kind", "slot_at", name="uq_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # claimed -> posted | skipped | failed
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    owner: Mapped[str] = mapped_column(String(64), default="", server_default=EMPTY)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)


class PostRow(Base):
    """A message the bot posted into a channel: a story, a prompt or an invitation."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("channel_id", "ts", name="uq_post_ts"),
        Index("ix_posts_channel_time", "workspace_id", "channel_id", "posted_at"),
        # Featured posts and their reactions in insights (migration 0005).
        Index("ix_posts_workspace_kind_time", "workspace_id", "kind", "posted_at"),
        # Stories ever posted, and reactions per story, for choosing a story (migration 0006).
        Index("ix_posts_workspace_story", "workspace_id", "story_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), nullable=True)
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReactionRow(Base):
    """One user's reaction on one bot post; unique, so Slack's event retries never count twice."""

    __tablename__ = "reactions"
    __table_args__ = (UniqueConstraint("channel_id", "ts", "user_id", "reaction", name="uq_reaction"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    reaction: Mapped[str] = mapped_column(String(100))


class CustomPrompt(Base):
    """A stand-up prompt a manager added for the workspace."""

    __tablename__ = "custom_prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(32), default="", server_default=EMPTY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ComplaintRow(Base):
    """A complaint's life cycle (open -> owned -> resolved, each with its time) and its one post
    in the improvement channel. One row per complaint story logged in Slack; an imported
    complaint has none until someone acts on it, and is open since its story was logged."""

    __tablename__ = "complaints"
    __table_args__ = (
        UniqueConstraint("story_id", name="uq_complaint_story"),
        Index("ix_complaints_workspace_state", "workspace_id", "state", "opened_at"),
        Index("ix_complaints_workspace_resolved", "workspace_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    # open | owned | resolved
    state: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    owner: Mapped[str | None] = mapped_column(String(32), nullable=True)
    owned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # resolved_at - opened_at in whole seconds, so the median is one ordered query on any database.
    resolution_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)  # "What did we change?"
    channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A process is posting it since then; after the lease another may take over (checking first).
    post_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # An earlier post's answer was lost: the channel's history since then is read before posting.
    post_check_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Slack's refusal at the last try (not_in_channel, ...), shown to managers.
    post_error: Mapped[str | None] = mapped_column(String(64), nullable=True)


# The OAuth tables of slack_sdk's SQLAlchemyInstallationStore and SQLAlchemyOAuthStateStore
# (default names), column for column, so that migration 0003 creates them and Alembic's
# comparison knows them. The stores read and write them through their own Table objects;
# tests/storage/test_migrations.py fails if slack_sdk's definition drifts from this copy.
OAUTH_INSTALLATIONS_TABLE = "slack_installations"
OAUTH_BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"

slack_installations = Table(
    OAUTH_INSTALLATIONS_TABLE,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(
        f"{OAUTH_INSTALLATIONS_TABLE}_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"
    ),
)

slack_bots = Table(
    OAUTH_BOTS_TABLE,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(f"{OAUTH_BOTS_TABLE}_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    OAUTH_STATES_TABLE,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
