"""Schedules as plain values: weekdays, HH:MM and a time zone; what a channel has set up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("story", "prompt")
TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ScheduleSpec:
    """When a channel gets a post of one kind."""

    kind: str
    weekdays: tuple[str, ...]
    time: str
    timezone: str

    @property
    def hour_minute(self) -> tuple[int, int]:
        match = TIME.match(self.time)
        if not match:
            raise ValueError(f"not a time: {self.time!r}")
        return int(match.group(1)), int(match.group(2))


def parse_time(text: str) -> str | None:
    """'9:00' -> '09:00'; None when it is not a 24-hour HH:MM time."""
    match = TIME.match((text or "").strip())
    if not match:
        return None
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def parse_skip_dates(text: str) -> tuple[list[str], list[str]]:
    """(ISO dates, rejected words) from '2026-12-24, 2026-12-25'."""
    dates: list[str] = []
    bad: list[str] = []
    for word in re.split(r"[,;\s]+", text or ""):
        if not word:
            continue
        try:
            iso = date.fromisoformat(word).isoformat()
            if iso not in dates:
                dates.append(iso)
        except ValueError:
            bad.append(word)
    return sorted(dates), bad


def slot_key(channel: str, kind: str, slot_at: datetime) -> str:
    """The identity of a slot, also stamped on the Slack message as metadata."""
    return f"{channel}|{kind}|{slot_at.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


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
    enterprise_id: str = ""  # the Enterprise Grid org, where the workspace belongs to one


@dataclass(frozen=True)
class ChannelSettings:
    """What a channel has set besides its schedules: preferred tags, language, skip dates."""

    channel_id: str
    tags: tuple[str, ...] = ()
    language: str | None = None
    skip_dates: tuple[str, ...] = ()
    last_prompt: str | None = None


@dataclass(frozen=True)
class Claim:
    """A slot this process now owns; `recovered` when taken over from a process that died."""

    id: int
    recovered: bool
