"""Insights as plain values: what a workspace's stories, posts and reactions add up to.

The figures are computed by the database (storage.insights); these values carry the small,
already-aggregated results to the renderers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKS = 12  # the chart's span
QUIET_DAYS = 28  # a channel without a story featured or logged this long is "quiet"


def week_starts(now: datetime, timezone: str = "UTC", weeks: int = WEEKS) -> tuple[datetime, ...]:
    """The starts (Monday 00:00 in `timezone`, as UTC) of the last `weeks` weeks, oldest first;
    the last one is the start of the current week."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).date()
    starts = []
    for n in range(weeks - 1, -1, -1):
        day = monday - timedelta(weeks=n)
        starts.append(datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC))
    return tuple(starts)


@dataclass(frozen=True)
class WeeklyCounts:
    """Stories of one kind logged per week, oldest week first."""

    kind: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Ranked:
    """One entry of a "most" list: a user ID or a customer name, and how often it came up."""

    name: str
    count: int


@dataclass(frozen=True)
class AgedComplaint:
    """An open (or owned) complaint: whose it is (shown per its consent) and since when."""

    story_id: int
    customer: str
    consent: str
    opened_at: datetime


@dataclass(frozen=True)
class QuietChannel:
    """A channel with schedules but no story featured or logged there recently."""

    channel_id: str
    last_featured: datetime | None


@dataclass(frozen=True)
class Insights:
    """A workspace's figures over the last weeks (see PRODUCT.md "Insights")."""

    week_starts: tuple[datetime, ...]
    per_week: tuple[WeeklyCounts, ...] = ()
    anonymous_stories: int = 0  # counted in the totals, never named
    featured_this_week: int = 0
    featured: int = 0
    reactions_this_week: int = 0
    reactions: int = 0
    credited: tuple[Ranked, ...] = ()
    customers: tuple[Ranked, ...] = ()
    open_complaints: int = 0
    oldest_complaints: tuple[AgedComplaint, ...] = ()
    median_resolution: timedelta | None = None  # over complaints resolved within the span
    quiet_channels: int = 0
    quiet: tuple[QuietChannel, ...] = field(default=())

    @property
    def logged(self) -> int:
        """Stories logged over the whole span."""
        return sum(w.total for w in self.per_week)

    @property
    def logged_this_week(self) -> int:
        return sum(w.counts[-1] for w in self.per_week if w.counts)
