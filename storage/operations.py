"""Read-only queries for operators (`impact-bot doctor`): installations and failed posts.

A function that takes a `session` runs in the caller's transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import desc, select
from sqlalchemy.orm import Session

from storage.models import ChannelRow, SlotClaim, Workspace, slack_bots


class InstalledBot(NamedTuple):
    """A workspace's (or an org's) latest bot installation, as slack_sdk's store finds it."""

    team_id: str  # "" for an org-wide install
    enterprise_id: str  # "" outside Enterprise Grid
    team_name: str
    enterprise_name: str
    is_enterprise_install: bool
    installed_at: datetime  # UTC
    bot_token: str
    bot_scopes: tuple[str, ...]


class FailedChannel(NamedTuple):
    """A channel of a workspace where scheduled posts failed since its last successful post."""

    team_id: str
    enterprise_id: str
    channel_id: str
    error: str  # Slack's refusal remembered for the channel, else the last failed slot's note
    failures: int  # failed slots since `since` and after the last posted one
    last_failed_at: datetime | None  # UTC; None when only the channel's remembered error is known


def installed_bots(session: Session, client_id: str) -> list[InstalledBot]:
    """The latest installation with a bot token per (enterprise, team) of this app, by name.

    Runs in the caller's transaction.
    """
    c = slack_bots.c
    rows = session.execute(
        select(
            c.team_id,
            c.enterprise_id,
            c.team_name,
            c.enterprise_name,
            c.is_enterprise_install,
            c.installed_at,
            c.bot_token,
            c.bot_scopes,
        )
        .where(c.client_id == client_id, c.bot_token.is_not(None))
        .order_by(desc(c.installed_at), desc(c.id))
    )
    latest: dict[tuple[str, str], InstalledBot] = {}
    for row in rows:
        key = (row.enterprise_id or "", "" if row.is_enterprise_install else row.team_id or "")
        if key in latest:
            continue  # an older installation of the same workspace: the store never uses it
        installed = row.installed_at
        latest[key] = InstalledBot(
            team_id=key[1],
            enterprise_id=key[0],
            team_name=row.team_name or "",
            enterprise_name=row.enterprise_name or "",
            is_enterprise_install=bool(row.is_enterprise_install),
            # slack_sdk stores naive UTC.
            installed_at=installed.replace(tzinfo=UTC) if installed.tzinfo is None else installed,
            bot_token=row.bot_token,
            bot_scopes=tuple(s.strip() for s in (row.bot_scopes or "").split(",") if s.strip()),
        )
    return sorted(latest.values(), key=lambda b: (b.team_name.lower(), b.enterprise_id, b.team_id))


def failed_channels(session: Session, since: datetime) -> list[FailedChannel]:
    """Channels whose last scheduled post Slack refused, or whose slots since `since` failed
    after their last successful post; by workspace and channel.

    Runs in the caller's transaction.
    """
    found: dict[tuple[str, str, str], FailedChannel] = {}
    refused = session.execute(
        select(Workspace.team_id, Workspace.enterprise_id, ChannelRow.channel_id, ChannelRow.last_error)
        .join(Workspace, ChannelRow.workspace_id == Workspace.id)
        .where(ChannelRow.last_error.is_not(None))
    )
    for team, enterprise, channel, error in refused:
        key = (team, enterprise or "", channel)
        found[key] = FailedChannel(team, enterprise or "", channel, str(error), 0, None)
    slots = session.execute(
        select(
            Workspace.team_id,
            Workspace.enterprise_id,
            SlotClaim.channel_id,
            SlotClaim.status,
            SlotClaim.note,
            SlotClaim.finished_at,
        )
        .join(Workspace, SlotClaim.workspace_id == Workspace.id)
        .where(SlotClaim.status.in_(("posted", "failed")), SlotClaim.slot_at >= since)
        .order_by(SlotClaim.slot_at, SlotClaim.id)
    )
    failures: dict[tuple[str, str, str], tuple[int, str, datetime | None]] = {}
    for team, enterprise, channel, status, note, finished in slots:
        key = (team, enterprise or "", channel)
        if status == "posted":
            failures.pop(key, None)  # a later post succeeded: earlier failures are over
        else:
            count = failures.get(key, (0, "", None))[0]
            failures[key] = (count + 1, str(note or "failed"), finished)
    for key, (count, note, at) in failures.items():
        known = found.get(key)
        found[key] = FailedChannel(*key, known.error if known else note, count, at)
    return [found[key] for key in sorted(found)]
