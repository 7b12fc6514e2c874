"""Insight and reference queries. Every figure is an aggregate computed by the database.

No function here loads a workspace's stories to count them in Python: each runs a bounded
number of statements (GROUP BY, COUNT, window functions) and reads back a small result,
whatever the number of stories. Every query is scoped to one workspace.

Indexes that serve them (migration 0005): stories (workspace_id, kind, created_at) for open
complaints and the weekly counts, (workspace_id, consent, created_at) for references,
(workspace_id, channel, created_at) for channels gone quiet; posts (workspace_id, kind,
posted_at) for featured posts and their reactions. The complaint life cycle is storage.complaints'
(migration 0004): open complaints are joined with it here, and its median is used as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from domain.complaint import RESOLVED
from domain.insights import QUIET_DAYS, AgedComplaint, Insights, QuietChannel, Ranked, WeeklyCounts
from domain.story import Story
from storage import complaints
from storage.models import ChannelRow, ComplaintRow, PostRow, ReactionRow, ScheduleRow, StoryRow
from storage.queries import to_story

TOP = 5  # entries in each "most" list
LISTED = 5  # open complaints and quiet channels listed by name


def _live(ws: int) -> list[ColumnElement[bool]]:
    return [StoryRow.workspace_id == ws, StoryRow.deleted_at.is_(None)]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END): a conditional count on every back end."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --- Stories per week ------------------------------------------------------------------


def stories_per_week(
    session: Session, ws: int, starts: Sequence[datetime]
) -> tuple[tuple[WeeklyCounts, ...], int]:
    """(live stories logged per week by kind since starts[0], how many of them are anonymous).

    `starts` are the weeks' first instants, oldest first. One statement: the week of each
    story is a CASE over the week starts (portable, unlike date_trunc), grouped with its kind.
    """
    if not starts:
        return (), 0
    week = case(
        *[(StoryRow.created_at >= start, index) for index, start in reversed(list(enumerate(starts)))],
        else_=0,
    ).label("week")
    anonymous = case((StoryRow.consent == "anonymous", 1), else_=0).label("anonymous")
    per_story = (
        select(StoryRow.kind.label("kind"), week, anonymous)
        .where(*_live(ws), StoryRow.created_at >= starts[0])
        .subquery()
    )
    rows = session.execute(
        select(per_story.c.kind, per_story.c.week, func.count(), func.sum(per_story.c.anonymous)).group_by(
            per_story.c.kind, per_story.c.week
        )
    )
    counts: dict[str, list[int]] = {}
    anonymous_total = 0
    for kind, index, count, anon in rows:
        counts.setdefault(str(kind), [0] * len(starts))[int(index)] += int(count)
        anonymous_total += int(anon or 0)
    weekly = tuple(WeeklyCounts(kind, tuple(counts[kind])) for kind in sorted(counts))
    return weekly, anonymous_total


# --- Featured posts and reactions ------------------------------------------------------


def _story_posts(ws: int, since: datetime) -> list[ColumnElement[bool]]:
    return [
        PostRow.workspace_id == ws,
        PostRow.kind == "story",
        PostRow.story_id.is_not(None),
        PostRow.posted_at >= since,
    ]


def featured_counts(session: Session, ws: int, since: datetime, this_week: datetime) -> tuple[int, int]:
    """(story posts since `this_week`, story posts since `since`)."""
    row = session.execute(
        select(_count_if(PostRow.posted_at >= this_week), func.count(PostRow.id)).where(
            *_story_posts(ws, since)
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def reaction_counts(session: Session, ws: int, since: datetime, this_week: datetime) -> tuple[int, int]:
    """(reactions on story posts made since `this_week`, on story posts made since `since`)."""
    row = session.execute(
        select(_count_if(PostRow.posted_at >= this_week), func.count(ReactionRow.id))
        .select_from(PostRow)
        .join(
            ReactionRow,
            and_(
                ReactionRow.workspace_id == PostRow.workspace_id,
                ReactionRow.channel_id == PostRow.channel_id,
                ReactionRow.ts == PostRow.ts,
            ),
        )
        .where(*_story_posts(ws, since))
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


# --- Colleagues and customers ----------------------------------------------------------


def _credited_ids(session: Session) -> Any:
    """The credited user IDs of a story as a table-valued function with a `value` column.

    SQLite's json_each and PostgreSQL's json_array_elements_text both take the row's column,
    so the database unnests the JSON arrays itself.
    """
    if _dialect(session) == "postgresql":
        array = case(
            (func.json_typeof(StoryRow.credited) == "array", StoryRow.credited),
            else_=cast(literal("[]"), JSON),
        )
        return func.json_array_elements_text(array).table_valued("value")
    return func.json_each(StoryRow.credited).table_valued("value")


def most_credited(session: Session, ws: int, since: datetime, top: int = TOP) -> tuple[Ranked, ...]:
    """The colleagues credited on the most live stories logged since `since`, most first."""
    ids = _credited_ids(session)
    value = ids.c.value
    count = func.count().label("n")
    rows = session.execute(
        select(value, count)
        .select_from(StoryRow)
        .join(ids, true())
        .where(*_live(ws), StoryRow.created_at >= since, value.is_not(None))
        .group_by(value)
        .order_by(count.desc(), value)
        .limit(top)
    )
    return tuple(Ranked(str(name), int(n)) for name, n in rows)


def most_mentioned_customers(
    session: Session, ws: int, since: datetime, top: int = TOP
) -> tuple[Ranked, ...]:
    """The customers of the most live stories logged since `since`, most first; names compared
    case-insensitively. Stories with anonymous consent are left out: they are counted, never
    named (see stories_per_week)."""
    key = func.lower(StoryRow.customer)
    count = func.count().label("n")
    rows = session.execute(
        select(func.min(StoryRow.customer), count)
        .where(*_live(ws), StoryRow.created_at >= since, StoryRow.consent != "anonymous")
        .group_by(key)
        .order_by(count.desc(), key)
        .limit(top)
    )
    return tuple(Ranked(str(name), int(n)) for name, n in rows)


# --- Complaints ------------------------------------------------------------------------


def oldest_open_complaints(
    session: Session, ws: int, limit: int = LISTED
) -> tuple[int, tuple[AgedComplaint, ...]]:
    """(how many complaints are open or owned, the oldest `limit` of them), in one statement.

    As storage.complaints counts them: live stories of kind complaint whose life cycle is not
    resolved (an untracked complaint is open since it was logged).
    """
    opened = func.coalesce(ComplaintRow.opened_at, StoryRow.created_at)
    total = func.count().over().label("total")
    rows = session.execute(
        select(StoryRow.id, StoryRow.customer, StoryRow.consent, opened.label("opened"), total)
        .select_from(StoryRow)
        .outerjoin(ComplaintRow, ComplaintRow.story_id == StoryRow.id)
        .where(
            *_live(ws),
            StoryRow.kind == "complaint",
            or_(ComplaintRow.id.is_(None), ComplaintRow.state != RESOLVED),
        )
        .order_by(opened, StoryRow.id)
        .limit(limit)
    ).all()
    count = int(rows[0].total) if rows else 0
    return count, tuple(AgedComplaint(r.id, r.customer, r.consent, r.opened) for r in rows)


# --- Channels gone quiet ---------------------------------------------------------------


def quiet_channels(
    session: Session, ws: int, now: datetime, limit: int = LISTED, days: int = QUIET_DAYS
) -> tuple[int, tuple[QuietChannel, ...]]:
    """(how many channels have schedules but no fresh story, the first `limit` of them).

    Fresh: a story featured in the channel, or a story (not a complaint) logged there, in the
    last `days` days. One statement with correlated EXISTS, served by the posts' and stories'
    (workspace, channel, time) indexes.
    """
    since = now - timedelta(days=days)
    channel = ChannelRow.channel_id
    featured_there = (
        (PostRow.workspace_id == ws)
        & (PostRow.channel_id == channel)
        & (PostRow.kind == "story")
        & PostRow.story_id.is_not(None)
    )
    last_featured = select(func.max(PostRow.posted_at)).where(featured_there).scalar_subquery()
    rows = session.execute(
        select(channel, last_featured.label("last_featured"), func.count().over().label("total"))
        .where(
            ChannelRow.workspace_id == ws,
            exists().where(ScheduleRow.channel_row_id == ChannelRow.id),
            ~exists().where(featured_there, PostRow.posted_at >= since),
            ~exists().where(
                *_live(ws),
                StoryRow.channel == channel,
                StoryRow.kind != "complaint",
                StoryRow.created_at >= since,
            ),
        )
        .order_by(channel)
        .limit(limit)
    ).all()
    count = int(rows[0].total) if rows else 0
    return count, tuple(QuietChannel(r.channel_id, r.last_featured) for r in rows)


# --- Everything for the stats page -----------------------------------------------------


def insights(session: Session, ws: int, starts: Sequence[datetime], now: datetime) -> Insights:
    """The workspace's insights over the weeks starting at `starts` (oldest first).

    Eight statements (nine once a complaint was resolved) whatever the number of stories; each
    reads back a few rows.
    """
    since, this_week = starts[0], starts[-1]
    per_week, anonymous = stories_per_week(session, ws, starts)
    featured_week, featured = featured_counts(session, ws, since, this_week)
    reactions_week, reactions = reaction_counts(session, ws, since, this_week)
    open_count, oldest = oldest_open_complaints(session, ws)
    quiet_count, quiet = quiet_channels(session, ws, now)
    return Insights(
        week_starts=tuple(starts),
        per_week=per_week,
        anonymous_stories=anonymous,
        featured_this_week=featured_week,
        featured=featured,
        reactions_this_week=reactions_week,
        reactions=reactions,
        credited=most_credited(session, ws, since),
        customers=most_mentioned_customers(session, ws, since),
        open_complaints=open_count,
        oldest_complaints=oldest,
        # storage.complaints keeps the life cycle: its median, over complaints resolved lately.
        median_resolution=complaints.median_resolution_time(session, ws, since=since),
        quiet_channels=quiet_count,
        quiet=quiet,
    )


# --- References for sales --------------------------------------------------------------


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def references(session: Session, ws: int, words: Sequence[str] = (), limit: int = 10) -> list[Story]:
    """Live stories with consent `public` (and only those), referrals first, then newest,
    containing every word in the customer, the quote or the tags. A complaint is no reference,
    whatever its consent."""
    matches = []
    for word in words:
        pattern = f"%{_escape_like(word.lower())}%"
        matches.append(
            or_(
                func.lower(StoryRow.customer).like(pattern, escape="\\"),
                func.lower(StoryRow.quote).like(pattern, escape="\\"),
                func.lower(cast(StoryRow.tags, Text)).like(pattern, escape="\\"),
            )
        )
    query = (
        select(StoryRow)
        .where(*_live(ws), StoryRow.consent == "public", StoryRow.kind != "complaint", *matches)
        .order_by(
            case((StoryRow.kind == "referral", 0), else_=1),
            StoryRow.created_at.desc(),
            StoryRow.id.desc(),
        )
        .limit(limit)
    )
    return [to_story(row) for row in session.scalars(query)]
