"""Complaints: their life cycle (open, owned, resolved) and their one post in the improvement channel.

A complaint is a live story of kind `complaint`. The bot tracks the complaints logged in Slack
with a row in `complaints`; one it never tracked (imported, or logged before complaints had a
life cycle) is open since its story was logged and is never posted, until someone acts on it.

A function that takes a `session` runs in the caller's transaction; one that takes the `db`
opens and commits its own. Every query is scoped by workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.complaint import OPEN, OWNED, RESOLVED, Complaint, OpenComplaint, Step
from domain.story import Story
from storage.db import Database
from storage.models import ComplaintRow, StoryRow, Workspace, utcnow
from storage.queries import to_story

KIND = "complaint"


def _live_complaints(ws: int) -> list[Any]:
    return [StoryRow.workspace_id == ws, StoryRow.kind == KIND, StoryRow.deleted_at.is_(None)]


def to_complaint(story: StoryRow, row: ComplaintRow | None) -> Complaint:
    """The life cycle as a plain value; an untracked complaint is open since it was logged."""
    if row is None:
        return Complaint(
            story_id=story.id,
            workspace_id=story.workspace_id,
            state=OPEN,
            opened_at=story.created_at,
            tracked=False,
        )
    return Complaint(
        story_id=story.id,
        workspace_id=story.workspace_id,
        state=row.state,
        opened_at=row.opened_at,
        owner=row.owner or "",
        owned_at=row.owned_at,
        resolved_by=row.resolved_by or "",
        resolved_at=row.resolved_at,
        change=row.resolution or "",
        channel=row.channel_id or "" if row.ts else "",
        ts=row.ts or "",
    )


def _with_rows(ws: int) -> Select[tuple[StoryRow, ComplaintRow]]:
    return (
        select(StoryRow, ComplaintRow)
        .outerjoin(ComplaintRow, ComplaintRow.story_id == StoryRow.id)
        .where(*_live_complaints(ws))
    )


def _row(session: Session, ws: int, story_id: int) -> tuple[StoryRow, ComplaintRow | None] | None:
    found = session.execute(_with_rows(ws).where(StoryRow.id == story_id)).first()
    return (found[0], found[1]) if found is not None else None


def get_complaint(session: Session, ws: int, story_id: int) -> tuple[Story, Complaint] | None:
    """The live complaint with this story id in this workspace, tracked or not; else None.

    Runs in the caller's transaction.
    """
    found = _row(session, ws, story_id)
    return (to_story(found[0]), to_complaint(*found)) if found is not None else None


def track(session: Session, ws: int, story_id: int) -> Complaint | None:
    """Start tracking a live complaint (idempotent, race-safe); None when it is not one.

    Runs in the caller's transaction.
    """
    found = _row(session, ws, story_id)
    if found is None:
        return None
    story, row = found
    if row is None:
        try:
            with session.begin_nested():
                row = ComplaintRow(workspace_id=ws, story_id=story.id, state=OPEN, opened_at=story.created_at)
                session.add(row)
                session.flush()
        except IntegrityError:
            # Another request started tracking it between our read and our insert.
            row = session.scalars(select(ComplaintRow).where(ComplaintRow.story_id == story.id)).one()
    return to_complaint(story, row)


def open_complaints(
    session: Session,
    ws: int,
    now: datetime | None = None,
    limit: int | None = None,
    *,
    newest_first: bool = False,
) -> list[OpenComplaint]:
    """The workspace's open and owned complaints with their age at `now`, oldest first
    (newest first on request), at most `limit` of them.

    Runs in the caller's transaction.
    """
    now = now or utcnow()
    query = _with_rows(ws).where(or_(ComplaintRow.id.is_(None), ComplaintRow.state != RESOLVED))
    order = (
        (StoryRow.created_at.desc(), StoryRow.id.desc())
        if newest_first
        else (StoryRow.created_at, StoryRow.id)
    )
    query = query.order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    out = []
    for story_row, row in session.execute(query):
        complaint = to_complaint(story_row, row)
        out.append(OpenComplaint(to_story(story_row), complaint, complaint.age(now)))
    return out


def count_open(session: Session, ws: int) -> int:
    """How many complaints of the workspace are open or owned.

    Runs in the caller's transaction.
    """
    query = (
        select(func.count(StoryRow.id))
        .outerjoin(ComplaintRow, ComplaintRow.story_id == StoryRow.id)
        .where(*_live_complaints(ws), or_(ComplaintRow.id.is_(None), ComplaintRow.state != RESOLVED))
    )
    return int(session.scalar(query) or 0)


def _resolved(ws: int, since: datetime | None) -> list[Any]:
    conditions = [
        ComplaintRow.workspace_id == ws,
        ComplaintRow.state == RESOLVED,
        ComplaintRow.resolution_seconds.is_not(None),
        *_live_complaints(ws),
    ]
    if since is not None:
        conditions.append(ComplaintRow.resolved_at >= since)
    return conditions


def resolution_times(
    session: Session, ws: int, since: datetime | None = None, limit: int | None = None
) -> list[timedelta]:
    """How long each resolved complaint was open (resolved since `since`), shortest first.

    Runs in the caller's transaction.
    """
    query = (
        select(ComplaintRow.resolution_seconds)
        .join(StoryRow, StoryRow.id == ComplaintRow.story_id)
        .where(*_resolved(ws, since))
        .order_by(ComplaintRow.resolution_seconds)
    )
    if limit is not None:
        query = query.limit(limit)
    return [timedelta(seconds=s) for s in session.scalars(query) if s is not None]


def median_resolution_time(session: Session, ws: int, since: datetime | None = None) -> timedelta | None:
    """The median time from complaint to resolved (resolved since `since`); None when none was.

    Computed in the database: one count, then the middle one or two rows in order.
    Runs in the caller's transaction.
    """
    base = select(ComplaintRow.resolution_seconds).join(StoryRow, StoryRow.id == ComplaintRow.story_id)
    count = int(
        session.scalar(
            select(func.count(ComplaintRow.id))
            .join(StoryRow, StoryRow.id == ComplaintRow.story_id)
            .where(*_resolved(ws, since))
        )
        or 0
    )
    if count == 0:
        return None
    middle = list(
        session.scalars(
            base.where(*_resolved(ws, since))
            .order_by(ComplaintRow.resolution_seconds, ComplaintRow.id)
            .offset((count - 1) // 2)
            .limit(1 if count % 2 else 2)
        )
    )
    seconds = [s for s in middle if s is not None]
    return timedelta(seconds=sum(seconds) / len(seconds)) if seconds else None


def take_ownership(session: Session, ws: int, story_id: int, user: str, now: datetime | None = None) -> Step:
    """Make `user` the owner of an open complaint. When someone already owns it, or it is
    resolved, nothing changes and the Step says who (done=False).

    Runs in the caller's transaction.
    """
    now = now or utcnow()
    if track(session, ws, story_id) is None:
        return Step(None)
    result = session.execute(
        update(ComplaintRow)
        .where(ComplaintRow.workspace_id == ws, ComplaintRow.story_id == story_id, ComplaintRow.state == OPEN)
        .values(state=OWNED, owner=user, owned_at=now)
        .execution_options(synchronize_session=False)
    )
    done = result.rowcount == 1  # type: ignore[attr-defined]
    session.expire_all()
    found = get_complaint(session, ws, story_id)
    return Step(found[1], done, found[0]) if found is not None else Step(None)


def resolve(
    session: Session, ws: int, story_id: int, user: str, change: str, now: datetime | None = None
) -> Step:
    """Resolve a complaint with what changed. When it is already resolved nothing changes and
    the Step says by whom (done=False).

    Runs in the caller's transaction.
    """
    now = now or utcnow()
    complaint = track(session, ws, story_id)
    if complaint is None:
        return Step(None)
    seconds = max(0, int((now - complaint.opened_at).total_seconds()))
    result = session.execute(
        update(ComplaintRow)
        .where(
            ComplaintRow.workspace_id == ws,
            ComplaintRow.story_id == story_id,
            ComplaintRow.state != RESOLVED,
        )
        .values(
            state=RESOLVED,
            resolved_by=user,
            resolved_at=now,
            resolution=change,
            resolution_seconds=seconds,
            # Nobody clicked "I'll own this": whoever resolved it owned it.
            owner=func.coalesce(ComplaintRow.owner, user),
            owned_at=func.coalesce(ComplaintRow.owned_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    done = result.rowcount == 1  # type: ignore[attr-defined]
    session.expire_all()
    found = get_complaint(session, ws, story_id)
    return Step(found[1], done, found[0]) if found is not None else Step(None)


# --- Posting to the improvement channel -----------------------------------------------------


def improvement_channel(session: Session, ws: int) -> str | None:
    """The workspace's improvement channel, None when none is set.

    Runs in the caller's transaction.
    """
    return session.scalar(select(Workspace.improvement_channel).where(Workspace.id == ws)) or None


def set_improvement_channel(session: Session, ws: int, channel: str | None) -> None:
    """Runs in the caller's transaction."""
    session.execute(
        update(Workspace)
        .where(Workspace.id == ws)
        .values(improvement_channel=channel or None)
        .execution_options(synchronize_session=False)
    )


def _unposted(ws: int) -> list[Any]:
    return [
        ComplaintRow.workspace_id == ws,
        ComplaintRow.ts.is_(None),
        ComplaintRow.state != RESOLVED,
        *_live_complaints(ws),
    ]


def unposted(session: Session, ws: int, limit: int = 50) -> list[int]:
    """Story ids of tracked open complaints not yet in the improvement channel, oldest first.

    Runs in the caller's transaction.
    """
    query = (
        select(ComplaintRow.story_id)
        .join(StoryRow, StoryRow.id == ComplaintRow.story_id)
        .where(*_unposted(ws))
        .order_by(ComplaintRow.opened_at, ComplaintRow.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_unposted(session: Session, ws: int) -> int:
    """Runs in the caller's transaction."""
    query = (
        select(func.count(ComplaintRow.id))
        .join(StoryRow, StoryRow.id == ComplaintRow.story_id)
        .where(*_unposted(ws))
    )
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class PostClaim:
    """The right to post one complaint now. When `check_since` is set, an earlier attempt may
    have reached Slack: `check_channel`'s history since then is read before posting."""

    story: Story
    complaint: Complaint
    check_channel: str = ""
    check_since: datetime | None = None


def claim_post(
    db: Database, ws: int, story_id: int, channel: str, lease: timedelta, now: datetime | None = None
) -> PostClaim | None:
    """Claim the posting of an unposted open complaint into `channel`; None when it is posted,
    resolved, gone, or another process is posting it (within `lease`).

    A compare-and-swap on the claim time lets exactly one process win. Owns its transaction.
    """
    now = now or utcnow()
    with db.session() as session:
        found = _row(session, ws, story_id)
        if found is None:
            return None
        story, row = found
        if row is None or row.ts or row.state == RESOLVED:
            return None
        held = row.post_claimed_at
        if held is not None and held > now - lease:
            return None
        same_claim: ColumnElement[bool] = (
            ComplaintRow.post_claimed_at.is_(None) if held is None else ComplaintRow.post_claimed_at == held
        )
        result = session.execute(
            update(ComplaintRow)
            .where(ComplaintRow.id == row.id, ComplaintRow.ts.is_(None), same_claim)
            .values(post_claimed_at=now, channel_id=channel)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        # A claim left by a process that died, or an answer that was lost: check before posting.
        starts = [t for t in (held, row.post_check_since) if t is not None]
        return PostClaim(
            to_story(story),
            to_complaint(story, row),
            check_channel=(row.channel_id or channel) if starts else "",
            check_since=min(starts) if starts else None,
        )


def finish_post(
    session: Session, ws: int, story_id: int, channel: str, ts: str, now: datetime | None = None
) -> None:
    """Record the complaint's post (found or answered). Runs in the caller's transaction."""
    session.execute(
        update(ComplaintRow)
        .where(ComplaintRow.workspace_id == ws, ComplaintRow.story_id == story_id)
        .values(
            channel_id=channel,
            ts=ts,
            posted_at=now or utcnow(),
            post_claimed_at=None,
            post_check_since=None,
            post_error=None,
        )
        .execution_options(synchronize_session=False)
    )


def release_post(
    db: Database,
    ws: int,
    story_id: int,
    *,
    error: str | None = None,
    uncertain_since: datetime | None = None,
) -> None:
    """Give a post claim back. `error`: Slack refused the channel, nothing was posted.
    `uncertain_since`: the answer was lost, so the next attempt reads the channel first.

    Owns its transaction.
    """
    values: dict[str, Any] = {"post_claimed_at": None}
    if uncertain_since is not None:
        values["post_check_since"] = func.coalesce(ComplaintRow.post_check_since, uncertain_since)
    else:
        values.update(post_check_since=None, channel_id=None, post_error=error)
    with db.session() as session:
        session.execute(
            update(ComplaintRow)
            .where(
                ComplaintRow.workspace_id == ws, ComplaintRow.story_id == story_id, ComplaintRow.ts.is_(None)
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def posted_messages(session: Session, ws: int, story_ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """(story id, channel, ts) of the complaint posts of these stories, e.g. to redact them.

    Runs in the caller's transaction.
    """
    if not story_ids:
        return []
    rows = session.execute(
        select(ComplaintRow.story_id, ComplaintRow.channel_id, ComplaintRow.ts).where(
            ComplaintRow.workspace_id == ws,
            ComplaintRow.story_id.in_(list(story_ids)),
            ComplaintRow.ts.is_not(None),
        )
    )
    return [(sid, channel or "", ts or "") for sid, channel, ts in rows]
