"""Channels and their schedules, preferences, custom prompts and refused posts.

A function that takes a `session` runs in the caller's transaction; one that takes the
`db` opens and commits its own.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.schedule import ChannelSchedule, ChannelSettings, ScheduleSpec
from storage.models import (
    ChannelRow,
    CustomPrompt,
    ScheduleRow,
    Workspace,
    utcnow,
)


def _channel_row(session: Session, ws: int, channel_id: str) -> ChannelRow:
    """The channel's row, created on first use (race-safe).

    Runs in the caller's transaction.
    """
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
    """Replace the channel's schedules and preferences.

    Runs in the caller's transaction.
    """
    channel = _channel_row(session, ws, channel_id)
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
    """Delete the channel's schedules; returns how many there were.

    Runs in the caller's transaction.
    """
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
    """Every schedule (of one workspace, or just one schedule, when given), by channel then kind.

    Runs in the caller's transaction.
    """
    query = (
        select(ScheduleRow, ChannelRow, Workspace.team_id, Workspace.enterprise_id)
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
            enterprise_id=enterprise or "",
        )
        for sched, channel, team, enterprise in session.execute(query)
    ]


def channel_settings(session: Session, ws: int, channel_id: str) -> ChannelSettings | None:
    """The channel's preferences, or None when it has never been set up.

    Runs in the caller's transaction.
    """
    row = session.scalar(
        select(ChannelRow).where(ChannelRow.workspace_id == ws, ChannelRow.channel_id == channel_id)
    )
    if row is None:
        return None
    return ChannelSettings(
        channel_id=row.channel_id,
        tags=tuple(row.tags or ()),
        language=row.language,
        skip_dates=tuple(row.skip_dates or ()),
        last_prompt=row.last_prompt,
    )


def set_last_prompt(session: Session, ws: int, channel_id: str, prompt: str) -> None:
    """Runs in the caller's transaction."""
    _channel_row(session, ws, channel_id).last_prompt = prompt


def note_channel_error(session: Session, ws: int, channel_id: str, error: str | None) -> bool:
    """Remember the channel's Slack error; True when it is new (so managers hear of it once).

    Runs in the caller's transaction.
    """
    channel = _channel_row(session, ws, channel_id)
    if channel.last_error == error:
        return False
    channel.last_error = error
    return error is not None


def custom_prompts(session: Session, ws: int) -> list[str]:
    """Runs in the caller's transaction."""
    return list(
        session.scalars(
            select(CustomPrompt.text).where(CustomPrompt.workspace_id == ws).order_by(CustomPrompt.id)
        )
    )


def set_custom_prompts(session: Session, ws: int, texts: list[str], user: str) -> None:
    """Runs in the caller's transaction."""
    session.execute(delete(CustomPrompt).where(CustomPrompt.workspace_id == ws))
    for text in texts:
        session.add(CustomPrompt(workspace_id=ws, text=text, created_by=user))
    session.flush()


def channel_errors(session: Session) -> list[tuple[str, str]]:
    """(channel, Slack error) for channels whose last scheduled post was refused.

    Runs in the caller's transaction.
    """
    rows = session.execute(
        select(ChannelRow.channel_id, ChannelRow.last_error)
        .where(ChannelRow.last_error.is_not(None))
        .order_by(ChannelRow.channel_id)
    )
    return [(channel, str(error)) for channel, error in rows]
