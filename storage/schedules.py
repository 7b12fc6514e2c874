"""Queries for channels, schedules, slot claims, posts, reactions and custom prompts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.schedule import ScheduleSpec
from storage.db import Database
from storage.models import (
    ChannelRow,
    CustomPrompt,
    PostRow,
    ReactionRow,
    ScheduleRow,
    SlotClaim,
    StoryRow,
    Workspace,
    utcnow,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ChannelSchedule:
    """A schedule with everything needed to run its slots."""

    id: int
    workspace_id: int
    team_id: str
    channel_id: str
    spec: ScheduleSpec
    created_at: datetime
    tags: tuple[str, ...]
    language: str | None
    skip_dates: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """A slot this process now owns; `recovered` when taken over from a process that died."""

    id: int
    recovered: bool


def channel_row(session: Session, ws: int, channel_id: str) -> ChannelRow:
    """The channel's row, created on first use (race-safe)."""
    query = select(ChannelRow).where(ChannelRow.workspace_id == ws, ChannelRow.channel_id == channel_id)
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = ChannelRow(workspace_id=ws, channel_id=channel_id, tags=[], skip_dates=[])
            session.add(row)
            session.flush()
            return row
    except IntegrityError:
        return session.scalars(query).one()


def set_channel_schedules(
    session: Session,
    ws: int,
    channel_id: str,
    specs: list[ScheduleSpec],
    *,
    tags: tuple[str, ...] = (),
    language: str | None = None,
    skip_dates: list[str] | None = None,
    created_by: str = "",
) -> None:
    """Replace the channel's schedules and preferences."""
    channel = channel_row(session, ws, channel_id)
    channel.tags = list(tags)
    channel.language = language
    channel.skip_dates = list(skip_dates or [])
    channel.last_error = None
    existing = {
        s.kind: s
        for s in session.scalars(select(ScheduleRow).where(ScheduleRow.channel_row_id == channel.id))
    }
    wanted = {spec.kind: spec for spec in specs}
    for kind, old in existing.items():
        if kind not in wanted:
            session.delete(old)
    for kind, spec in wanted.items():
        found = existing.get(kind)
        changed = found is None or (found.weekdays, found.time, found.timezone) != (
            ",".join(spec.weekdays),
            spec.time,
            spec.timezone,
        )
        row = found if found is not None else ScheduleRow(channel_row_id=channel.id, kind=kind)
        if found is None:
            session.add(row)
        row.weekdays = ",".join(spec.weekdays)
        row.time = spec.time
        row.timezone = spec.timezone
        row.created_by = created_by
        if changed:
            # Slots before a (re)scheduling are not owed: no late post for a time just set.
            row.created_at = utcnow()
    session.flush()


def remove_channel_schedules(session: Session, ws: int, channel_id: str) -> int:
    """Delete the channel's schedules; returns how many there were."""
    channel = session.scalar(
        select(ChannelRow).where(ChannelRow.workspace_id == ws, ChannelRow.channel_id == channel_id)
    )
    if channel is None:
        return 0
    result = session.execute(delete(ScheduleRow).where(ScheduleRow.channel_row_id == channel.id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_schedules(
    session: Session, ws: int | None = None, schedule_id: int | None = None
) -> list[ChannelSchedule]:
    """Every schedule (of one workspace, or just one schedule, when given), by channel then kind."""
    query = (
        select(ScheduleRow, ChannelRow, Workspace.team_id)
        .join(ChannelRow, ScheduleRow.channel_row_id == ChannelRow.id)
        .join(Workspace, ChannelRow.workspace_id == Workspace.id)
        .order_by(ChannelRow.workspace_id, ChannelRow.channel_id, ScheduleRow.kind)
    )
    if ws is not None:
        query = query.where(ChannelRow.workspace_id == ws)
    if schedule_id is not None:
        query = query.where(ScheduleRow.id == schedule_id)
    return [
        ChannelSchedule(
            id=sched.id,
            workspace_id=channel.workspace_id,
            team_id=team,
            channel_id=channel.channel_id,
            spec=ScheduleSpec(
                kind=sched.kind,
                weekdays=tuple(d for d in sched.weekdays.split(",") if d),
                time=sched.time,
                timezone=sched.timezone,
            ),
            created_at=sched.created_at,
            tags=tuple(channel.tags or ()),
            language=channel.language,
            skip_dates=tuple(channel.skip_dates or ()),
        )
        for sched, channel, team in session.execute(query)
    ]


def channel_settings(session: Session, ws: int, channel_id: str) -> ChannelRow | None:
    return session.scalar(
        select(ChannelRow).where(ChannelRow.workspace_id == ws, ChannelRow.channel_id == channel_id)
    )


# --- Slot claims -------------------------------------------------------------------------


def claim_slot(
    db: Database,
    ws: int,
    channel_id: str,
    kind: str,
    slot_at: datetime,
    owner: str,
    lease: timedelta,
    now: datetime | None = None,
) -> Claim | None:
    """Claim a slot for this process; None when another process has it or it is done.

    The unique (workspace, channel, kind, slot) row is the lock: the first insert wins. A claim
    left 'claimed' for longer than the lease belongs to a process that died; one process takes it
    over with a compare-and-swap on claimed_at, and must then check Slack before posting.
    """
    now = now or utcnow()
    try:
        with db.session() as session:
            row = SlotClaim(
                workspace_id=ws,
                channel_id=channel_id,
                kind=kind,
                slot_at=slot_at,
                status="claimed",
                owner=owner,
                claimed_at=now,
            )
            session.add(row)
            session.flush()
            return Claim(row.id, recovered=False)
    except IntegrityError:
        pass
    with db.session() as session:
        held = session.scalar(
            select(SlotClaim).where(
                SlotClaim.workspace_id == ws,
                SlotClaim.channel_id == channel_id,
                SlotClaim.kind == kind,
                SlotClaim.slot_at == slot_at,
            )
        )
        if held is None or held.status != "claimed" or held.claimed_at > now - lease:
            return None
        result = session.execute(
            update(SlotClaim)
            .where(
                SlotClaim.id == held.id,
                SlotClaim.status == "claimed",
                SlotClaim.claimed_at == held.claimed_at,
            )
            .values(owner=owner, claimed_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return Claim(held.id, recovered=True)
    return None


def finish_claim(session: Session, claim_id: int, status: str, ts: str | None = None, note: str = "") -> None:
    session.execute(
        update(SlotClaim)
        .where(SlotClaim.id == claim_id)
        .values(status=status, message_ts=ts, note=note, finished_at=utcnow())
    )


def release_claim(db: Database, claim_id: int, note: str) -> None:
    """Give a claim back after a transient failure: the next sweep takes it over and checks Slack."""
    with db.session() as session:
        session.execute(
            update(SlotClaim)
            .where(SlotClaim.id == claim_id, SlotClaim.status == "claimed")
            .values(claimed_at=EPOCH, note=note)
        )


def record_slot(
    db: Database, ws: int, channel_id: str, kind: str, slot_at: datetime, status: str, note: str
) -> bool:
    """Record a slot as skipped or failed without posting; False when it was already recorded."""
    try:
        with db.session() as session:
            session.add(
                SlotClaim(
                    workspace_id=ws,
                    channel_id=channel_id,
                    kind=kind,
                    slot_at=slot_at,
                    status=status,
                    note=note,
                    claimed_at=utcnow(),
                    finished_at=utcnow(),
                )
            )
        return True
    except IntegrityError:
        return False


def known_slots(
    session: Session, ws: int, channel_id: str, kind: str, since: datetime
) -> dict[datetime, str]:
    """{slot time: status} for the channel's slots after `since`."""
    rows = session.execute(
        select(SlotClaim.slot_at, SlotClaim.status).where(
            SlotClaim.workspace_id == ws,
            SlotClaim.channel_id == channel_id,
            SlotClaim.kind == kind,
            SlotClaim.slot_at > since,
        )
    )
    return {slot: status for slot, status in rows}


# --- Posts, reactions, history -----------------------------------------------------------


def add_post(
    session: Session,
    ws: int,
    channel_id: str,
    ts: str,
    kind: str,
    story_id: int | None = None,
    prompt: str | None = None,
) -> None:
    session.add(
        PostRow(workspace_id=ws, channel_id=channel_id, ts=ts, kind=kind, story_id=story_id, prompt=prompt)
    )
    session.flush()


def featured_story_ids(session: Session, ws: int, channel_id: str) -> frozenset[int]:
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
    """Customers of the channel's last story posts, newest first."""
    rows = session.scalars(
        select(StoryRow.customer)
        .join(PostRow, PostRow.story_id == StoryRow.id)
        .where(PostRow.workspace_id == ws, PostRow.channel_id == channel_id, PostRow.kind == "story")
        .order_by(PostRow.posted_at.desc(), PostRow.id.desc())
        .limit(limit)
    )
    return tuple(rows)


def appreciation(session: Session, ws: int) -> dict[int, int]:
    """Reactions per story, over every post of the story."""
    rows = session.execute(
        select(PostRow.story_id, func.count(ReactionRow.id))
        .join(ReactionRow, (ReactionRow.channel_id == PostRow.channel_id) & (ReactionRow.ts == PostRow.ts))
        .where(PostRow.workspace_id == ws, PostRow.story_id.is_not(None))
        .group_by(PostRow.story_id)
    )
    return {story_id: int(count) for story_id, count in rows if story_id is not None}


def featured_counts(session: Session, ws: int) -> dict[int, int]:
    rows = session.execute(
        select(PostRow.story_id, func.count(PostRow.id))
        .where(PostRow.workspace_id == ws, PostRow.kind == "story", PostRow.story_id.is_not(None))
        .group_by(PostRow.story_id)
    )
    return {story_id: int(count) for story_id, count in rows if story_id is not None}


def is_bot_post(session: Session, ws: int, channel_id: str, ts: str) -> bool:
    query = select(PostRow.id).where(
        PostRow.workspace_id == ws, PostRow.channel_id == channel_id, PostRow.ts == ts
    )
    return session.scalar(query) is not None


def add_reaction(db: Database, ws: int, channel_id: str, ts: str, user: str, reaction: str) -> bool:
    """Count a reaction once; False when Slack retried an event already counted."""
    try:
        with db.session() as session:
            session.add(
                ReactionRow(workspace_id=ws, channel_id=channel_id, ts=ts, user_id=user, reaction=reaction)
            )
        return True
    except IntegrityError:
        return False


def remove_reaction(session: Session, ws: int, channel_id: str, ts: str, user: str, reaction: str) -> None:
    session.execute(
        delete(ReactionRow).where(
            ReactionRow.workspace_id == ws,
            ReactionRow.channel_id == channel_id,
            ReactionRow.ts == ts,
            ReactionRow.user_id == user,
            ReactionRow.reaction == reaction,
        )
    )


def set_last_prompt(session: Session, ws: int, channel_id: str, prompt: str) -> None:
    channel_row(session, ws, channel_id).last_prompt = prompt


def note_channel_error(session: Session, ws: int, channel_id: str, error: str | None) -> bool:
    """Remember the channel's Slack error; True when it is new (so managers hear of it once)."""
    channel = channel_row(session, ws, channel_id)
    if channel.last_error == error:
        return False
    channel.last_error = error
    return error is not None


def custom_prompts(session: Session, ws: int) -> list[str]:
    return list(
        session.scalars(
            select(CustomPrompt.text).where(CustomPrompt.workspace_id == ws).order_by(CustomPrompt.id)
        )
    )


def set_custom_prompts(session: Session, ws: int, texts: list[str], user: str) -> None:
    session.execute(delete(CustomPrompt).where(CustomPrompt.workspace_id == ws))
    for text in texts:
        session.add(CustomPrompt(workspace_id=ws, text=text, created_by=user))
    session.flush()


def channel_errors(session: Session) -> list[tuple[str, str]]:
    """(channel, Slack error) for channels whose last scheduled post was refused."""
    rows = session.execute(
        select(ChannelRow.channel_id, ChannelRow.last_error)
        .where(ChannelRow.last_error.is_not(None))
        .order_by(ChannelRow.channel_id)
    )
    return [(channel, str(error)) for channel, error in rows]
