"""A complaint's life cycle as plain values: open, owned, resolved, and where it was posted.

PRODUCT.md "Complaints": a story of kind `complaint` is never featured; it goes to the
workspace's improvement channel, where someone owns it and someone resolves it by saying what
changed. Each step is stored with its time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.story import Story, clean_text

OPEN, OWNED, RESOLVED = "open", "owned", "resolved"
STATES = (OPEN, OWNED, RESOLVED)
CHANGE_LIMIT = 1000  # "What did we change?": as long as a story's "what changed"


def marker(story_id: int) -> str:
    """The metadata marker of a complaint's channel post: one post per complaint, ever."""
    return f"complaint|{story_id}"


@dataclass(frozen=True)
class Complaint:
    """Where a complaint stands. A complaint the bot never tracked (imported, or logged before
    complaints had a life cycle) is open since its story was logged, and not posted."""

    story_id: int
    workspace_id: int
    state: str
    opened_at: datetime
    owner: str = ""
    owned_at: datetime | None = None
    resolved_by: str = ""
    resolved_at: datetime | None = None
    change: str = ""
    channel: str = ""
    ts: str = ""
    tracked: bool = True

    @property
    def posted(self) -> bool:
        """True once the complaint's message is in the improvement channel."""
        return bool(self.channel and self.ts)

    @property
    def is_open(self) -> bool:
        """Open or owned: nobody has said what changed yet."""
        return self.state != RESOLVED

    def age(self, now: datetime) -> timedelta:
        """How long it has been (or was) open: until it was resolved, else until `now`."""
        return (self.resolved_at or now) - self.opened_at


@dataclass(frozen=True)
class OpenComplaint:
    """An open (or owned) complaint with its story and its age when it was read."""

    story: Story
    complaint: Complaint
    age: timedelta


@dataclass(frozen=True)
class Step:
    """The outcome of trying to own or resolve a complaint.

    `done` is True when this request made the step; otherwise `complaint` shows who got there
    first (its owner, or who resolved it). `complaint` is None when there is no such complaint.
    """

    complaint: Complaint | None
    done: bool = False
    story: Story | None = None


def clean_change(text: str) -> str:
    """What a resolver typed, as it is stored: trimmed; renderers escape it when shown."""
    return clean_text(text).strip()


def change_errors(change: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """{"change": (message id, params)} when the answer is empty or too long; {} when valid."""
    if not change:
        return {"change": ("error.required", {})}
    if len(change) > CHANGE_LIMIT:
        return {"change": ("error.too_long", {"limit": CHANGE_LIMIT, "length": len(change)})}
    return {}
