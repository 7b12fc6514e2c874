"""The bot's posts and the reactions on them: what was featured where, and appreciation.

A function that takes a `session` runs in the caller's transaction; one that takes the
`db` opens and commits its own.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import (
    PostRow,
    ReactionRow,
    StoryRow,
)


def add_post(
    session: Session,
    ws: int,
    channel_id: str,
    ts: str,
    kind: str,
    story_id: int | None = None,
    prompt: str | None = None,
) -> None:
    """Runs in the caller's transaction."""
    session.add(
        PostRow(workspace_id=ws, channel_id=channel_id, ts=ts, kind=kind, story_id=story_id, prompt=prompt)
    )
    session.flush()


def featured_story_ids(session: Session, ws: int, channel_id: str) -> frozenset[int]:
    """Runs in the caller's transaction."""
    rows = session.scalars(
        select(PostRow.story_id).where(
            PostRow.workspace_id == ws,
            PostRow.channel_id == channel_id,
            PostRow.kind == "story",
            PostRow.story_id.is_not(None),
        )
    )
    return frozenset(r for r in rows if r is not None)


def recent_customers(session: Session, ws: int, channel_id: str, limit: int = 4) -> tuple[str, ...]:
    """Customers of the channel's last story posts, newest first.

    Runs in the caller's transaction.
    """
    rows = session.scalars(
        select(StoryRow.customer)
        .join(PostRow, PostRow.story_id == StoryRow.id)
        .where(PostRow.workspace_id == ws, PostRow.channel_id == channel_id, PostRow.kind == "story")
        .order_by(PostRow.posted_at.desc(), PostRow.id.desc())
        .limit(limit)
    )
    return tuple(rows)


def appreciation(session: Session, ws: int) -> dict[int, int]:
    """Reactions per story, over every post of the story.

    Runs in the caller's transaction.
    """
    rows = session.execute(
        select(PostRow.story_id, func.count(ReactionRow.id))
        .join(ReactionRow, (ReactionRow.channel_id == PostRow.channel_id) & (ReactionRow.ts == PostRow.ts))
        # Reactions on the bot's channel posts, not on its direct messages.
        .where(PostRow.workspace_id == ws, PostRow.story_id.is_not(None), PostRow.kind != "dm")
        .group_by(PostRow.story_id)
    )
    return {story_id: int(count) for story_id, count in rows if story_id is not None}


def featured_counts(session: Session, ws: int) -> dict[int, int]:
    """Runs in the caller's transaction."""
    rows = session.execute(
        select(PostRow.story_id, func.count(PostRow.id))
        .where(PostRow.workspace_id == ws, PostRow.kind == "story", PostRow.story_id.is_not(None))
        .group_by(PostRow.story_id)
    )
    return {story_id: int(count) for story_id, count in rows if story_id is not None}


def is_bot_post(session: Session, ws: int, channel_id: str, ts: str) -> bool:
    """Whether this message is one of the bot's channel posts (a DM's reactions do not count).

    Runs in the caller's transaction.
    """
    query = select(PostRow.id).where(
        PostRow.workspace_id == ws, PostRow.channel_id == channel_id, PostRow.ts == ts, PostRow.kind != "dm"
    )
    return session.scalar(query) is not None


def add_reaction(db: Database, ws: int, channel_id: str, ts: str, user: str, reaction: str) -> bool:
    """Count a reaction once; False when Slack retried an event already counted.

    Owns its transaction.
    """
    try:
        with db.session() as session:
            session.add(
                ReactionRow(workspace_id=ws, channel_id=channel_id, ts=ts, user_id=user, reaction=reaction)
            )
        return True
    except IntegrityError:
        return False


def remove_reaction(session: Session, ws: int, channel_id: str, ts: str, user: str, reaction: str) -> None:
    """Runs in the caller's transaction."""
    session.execute(
        delete(ReactionRow).where(
            ReactionRow.workspace_id == ws,
            ReactionRow.channel_id == channel_id,
            ReactionRow.ts == ts,
            ReactionRow.user_id == user,
            ReactionRow.reaction == reaction,
        )
    )
