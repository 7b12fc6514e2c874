"""Schedules as plain values: weekdays, HH:MM and a time zone, turned into UTC slot times."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("story", "prompt")
TICK = timedelta(microseconds=1)
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

    def trigger(self) -> CronTrigger:
        """APScheduler's CronTrigger in the schedule's own zone, so DST is handled there."""
        hour, minute = self.hour_minute
        return CronTrigger(
            day_of_week=",".join(self.weekdays),
            hour=hour,
            minute=minute,
            second=0,
            timezone=ZoneInfo(self.timezone),
        )

    def describe(self) -> str:
        days = ", ".join(d.capitalize() for d in self.weekdays)
        return f"{days} at {self.time} ({self.timezone})"


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


def slots_between(spec: ScheduleSpec, after: datetime, until: datetime) -> Iterator[datetime]:
    """Slot times t with after < t <= until, in UTC, at most one per local day and time."""
    trigger = spec.trigger()
    when = trigger.get_next_fire_time(None, after + TICK)
    while when is not None and when.astimezone(UTC) <= until.astimezone(UTC):
        yield when.astimezone(UTC)
        when = _after(trigger, when)


def _after(trigger: CronTrigger, when: datetime) -> datetime | None:
    """The first fire time after `when` that is a different local wall-clock time.

    On a daylight-saving fall-back day a wall-clock time occurs twice and APScheduler would
    fire at both; a weekly post goes out once, at the first. Comparisons are made in UTC
    because Python compares datetimes of one zone by wall clock, ignoring `fold`.
    """
    zone = when.tzinfo
    probe = when + TICK
    for _ in range(4):
        following = trigger.get_next_fire_time(None, probe)
        if following is None:
            return None
        later = following.astimezone(UTC) > when.astimezone(UTC)
        if later and following.replace(tzinfo=None, fold=0) != when.replace(tzinfo=None, fold=0):
            return following
        probe = (following.astimezone(UTC) + timedelta(minutes=1)).astimezone(zone)
    return None


def next_run(
    spec: ScheduleSpec, now: datetime, skip_dates: list[str] | tuple[str, ...] = ()
) -> datetime | None:
    """The next slot after `now` that is not on a skip date."""
    trigger = spec.trigger()
    when = trigger.get_next_fire_time(None, now)
    for _ in range(400):
        if when is None or when.date().isoformat() not in skip_dates:
            return when
        when = _after(trigger, when)
    return None


def slot_key(channel: str, kind: str, slot_at: datetime) -> str:
    """The identity of a slot, also stamped on the Slack message as metadata."""
    return f"{channel}|{kind}|{slot_at.astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%MZ}"
