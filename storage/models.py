"""SQLAlchemy 2 typed models. Knows nothing of Slack beyond plain ID strings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


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
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    improvement_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StoryRow(Base):
    """A customer voice as stored; see PRODUCT.md "A story"."""

    __tablename__ = "stories"
    __table_args__ = (
        Index("ix_stories_workspace_created", "workspace_id", "created_at"),
        Index("ix_stories_workspace_author", "workspace_id", "author"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    customer: Mapped[str] = mapped_column(String(200))
    quote: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(200), default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="praise")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    credited: Mapped[list[str]] = mapped_column(JSON, default=list)
    consent: Mapped[str] = mapped_column(String(16), default="internal")
    source: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
