"""Schedule arithmetic: APScheduler's CronTrigger in each schedule's zone, DST-safe slot times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from domain.schedule import ScheduleSpec

TICK = timedelta(microseconds=1)


def trigger(spec: ScheduleSpec) -> CronTrigger:
    """APScheduler's CronTrigger in the schedule's own zone, so DST is handled there."""
    hour, minute = spec.hour_minute
    return CronTrigger(
        day_of_week=",".join(spec.weekdays),
        hour=hour,
        minute=minute,
        second=0,
        timezone=ZoneInfo(spec.timezone),
    )


def slots_between(spec: ScheduleSpec, after: datetime, until: datetime) -> Iterator[datetime]:
    """Slot times t with after < t <= until, in UTC, at most one per local day and time."""
    cron = trigger(spec)
    when = cron.get_next_fire_time(None, after + TICK)
    while when is not None and when.astimezone(UTC) <= until.astimezone(UTC):
        yield when.astimezone(UTC)
        when = _after(cron, when)


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
    cron = trigger(spec)
    when = cron.get_next_fire_time(None, now)
    for _ in range(400):
        if when is None or when.date().isoformat() not in skip_dates:
            return when
        when = _after(cron, when)
    return None
