"""Queries for App Home: a contributor's own totals, recent voices and open complaints."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.home import AuthorImpact
from domain.story import Story
from storage.models import PostRow, ReactionRow, StoryRow
from storage.queries import to_story


def _live_by(ws: int, author: str) -> list:  # type: ignore[type-arg]
    return [StoryRow.workspace_id == ws, StoryRow.author == author, StoryRow.deleted_at.is_(None)]


def author_impact(session: Session, ws: int, author: str) -> AuthorImpact:
    """Totals over the author's stories that are not deleted, in this workspace only."""
    stories = session.scalar(select(func.count(StoryRow.id)).where(*_live_by(ws, author)))
    featured = session.scalar(
        select(func.count(PostRow.id))
        .join(StoryRow, PostRow.story_id == StoryRow.id)
        .where(PostRow.workspace_id == ws, PostRow.kind == "story", *_live_by(ws, author))
    )
    # Reactions on any bot post of the story (story posts, and prompts quoting it if ever linked).
    reactions = session.scalar(
        select(func.count(ReactionRow.id))
        .join(
            PostRow,
            (ReactionRow.workspace_id == PostRow.workspace_id)
            & (ReactionRow.channel_id == PostRow.channel_id)
            & (ReactionRow.ts == PostRow.ts),
        )
        .join(StoryRow, PostRow.story_id == StoryRow.id)
        .where(PostRow.workspace_id == ws, PostRow.kind != "dm", *_live_by(ws, author))
    )
    return AuthorImpact(int(stories or 0), int(featured or 0), int(reactions or 0))


def recent_stories(
    session: Session, ws: int, limit: int = 5, exclude_kinds: Iterable[str] = ()
) -> list[Story]:
    """The workspace's newest live stories, newest first, without the excluded kinds."""
    query = (
        select(StoryRow)
        .where(StoryRow.workspace_id == ws, StoryRow.deleted_at.is_(None))
        .order_by(StoryRow.created_at.desc(), StoryRow.id.desc())
        .limit(limit)
    )
    excluded = list(exclude_kinds)
    if excluded:
        query = query.where(StoryRow.kind.not_in(excluded))
    return [to_story(r) for r in session.scalars(query)]
