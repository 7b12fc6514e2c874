"""Insight and reference queries on a SQLite file and on the local PostgreSQL.

The figures are aggregates the database computes: checked against hand-counted data, scoped to
one workspace, and run as a fixed number of statements that load no story rows, whatever the
number of stories.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select

from domain.insights import QUIET_DAYS, week_starts
from domain.schedule import ScheduleSpec
from domain.story import Draft
from storage import channels, complaints, posts, queries
from storage import insights as iq
from storage.db import Database
from storage.models import StoryRow

NOW = datetime(2030, 6, 12, 15, 0, tzinfo=UTC)  # a Wednesday
STARTS = week_starts(NOW, "UTC")
THIS_WEEK = STARTS[-1]


def add(db: Database, ws: int, customer: str, days_ago: float, **fields: Any) -> int:
    author = fields.pop("author", "U0AUTH")
    channel = fields.pop("channel", "C1")
    with db.session() as s:
        draft = Draft(customer=customer, quote=fields.pop("quote", "They loved it"), **fields)
        story = queries.add_story(
            s, ws, draft, author=author, channel=channel, created_at=NOW - timedelta(days=days_ago)
        )
    return story.id


def workspaces(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return queries.workspace_id(s, "T1"), queries.workspace_id(s, "T2")


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on the engine, and the ORM story rows loaded, inside the block."""
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def on_load(_target: Any, _context: Any) -> None:
        statements.append("LOADED A STORY ROW")

    event.listen(db.engine, "before_cursor_execute", on_execute)
    event.listen(StoryRow, "load", on_load)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
        event.remove(StoryRow, "load", on_load)


def test_week_starts_are_mondays_in_the_zone_oldest_first() -> None:
    starts = week_starts(NOW, "Europe/Berlin")
    assert len(starts) == 12
    # Monday 2030-06-10 00:00 in Berlin (summer time) is Sunday 22:00 UTC.
    assert starts[-1] == datetime(2030, 6, 9, 22, 0, tzinfo=UTC)
    assert all(
        b - a in (timedelta(days=7), timedelta(days=7, hours=1), timedelta(days=6, hours=23))
        for a, b in zip(starts, starts[1:], strict=False)
    )
    assert STARTS[-1] == datetime(2030, 6, 10, tzinfo=UTC) and STARTS[0] == datetime(2030, 3, 25, tzinfo=UTC)


def test_figures_are_counted_per_week_kind_and_workspace(any_db: Database) -> None:
    ws, other = workspaces(any_db)
    # This week (since Monday): 2 praise, 1 complaint, 1 anonymous idea.
    add(any_db, ws, "Acme", 1, credited=("U0ANN", "U0BOB"))
    add(any_db, ws, "ACME", 2, credited=("U0ANN",))
    add(any_db, ws, "Beta", 0.5, kind="complaint")
    add(any_db, ws, "Secret Corp", 0.1, kind="idea", consent="anonymous", credited=("U0ANN",))
    # Three weeks ago a referral; 20 weeks ago (outside the chart) and deleted ones count nowhere.
    add(any_db, ws, "Gamma", 21, kind="referral", credited=("U0BOB",))
    add(any_db, ws, "Ancient", 140, credited=("U0OLD",))
    gone = add(any_db, ws, "Gone", 1, credited=("U0GONE",))
    with any_db.session() as s:
        queries.delete_story(s, ws, gone)
    # Another workspace's stories never count here.
    add(any_db, other, "Other", 1, credited=("U0OTHER",))

    with any_db.session() as s:
        got = iq.insights(s, ws, STARTS, NOW)

    weekly = {row.kind: row.counts for row in got.per_week}
    assert weekly["praise"][-1] == 2 and sum(weekly["praise"]) == 2
    assert weekly["complaint"][-1] == 1 and weekly["idea"][-1] == 1
    assert weekly["referral"][-4] == 1 and sum(weekly["referral"]) == 1
    assert got.logged_this_week == 4 and got.logged == 5
    assert got.anonymous_stories == 1
    assert [(r.name, r.count) for r in got.credited] == [("U0ANN", 3), ("U0BOB", 2)]
    # Names compare case-insensitively; the anonymous story is counted, never named.
    assert [(r.name.lower(), r.count) for r in got.customers] == [("acme", 2), ("beta", 1), ("gamma", 1)]
    assert "Secret Corp" not in str(got.customers)
    assert got.open_complaints == 1 and [c.customer for c in got.oldest_complaints] == ["Beta"]


def test_featured_and_reactions_count_story_posts_this_week_and_in_the_span(any_db: Database) -> None:
    ws, other = workspaces(any_db)
    story = add(any_db, ws, "Acme", 1)
    now = datetime.now(UTC)
    starts = week_starts(now)
    with any_db.session() as s:
        posts.add_post(s, ws, "C1", "1.1", "story", story_id=story)
        posts.add_post(s, ws, "C2", "1.2", "story", story_id=story)
        posts.add_post(s, ws, "C1", "1.3", "invitation")
        posts.add_post(s, ws, "C1", "1.4", "prompt", story_id=story, prompt="p")
        posts.add_post(s, other, "CX", "1.1", "story", story_id=story)
    for channel, ts, user in (
        ("C1", "1.1", "U1"),
        ("C1", "1.1", "U2"),
        ("C2", "1.2", "U1"),
        ("C1", "1.4", "U1"),
    ):
        posts.add_reaction(any_db, ws, channel, ts, user, "tada")
    posts.add_reaction(any_db, other, "C1", "1.1", "U9", "tada")
    with any_db.session() as s:
        got = iq.insights(s, ws, starts, now)
    assert (got.featured_this_week, got.featured) == (2, 2)
    assert (got.reactions_this_week, got.reactions) == (3, 3)


def test_open_complaints_oldest_first_with_the_total(any_db: Database) -> None:
    ws, other = workspaces(any_db)
    ids = [add(any_db, ws, f"Unhappy {n}", 10 - n, kind="complaint") for n in range(7)]
    add(any_db, other, "Elsewhere", 30, kind="complaint")
    add(any_db, ws, "Happy", 40)
    with any_db.session() as s:
        # Owned is still open; resolved is not; an untracked complaint is open since it was logged.
        complaints.take_ownership(s, ws, ids[1], "U0OWNER", now=NOW)
        complaints.resolve(s, ws, ids[0], "U0FIXER", "We fixed the export", now=NOW)
    with any_db.session() as s:
        count, oldest = iq.oldest_open_complaints(s, ws, limit=3)
        assert count == complaints.count_open(s, ws) == 6
    assert [c.customer for c in oldest] == ["Unhappy 1", "Unhappy 2", "Unhappy 3"]
    assert oldest[0].opened_at == NOW - timedelta(days=9)
    with any_db.session() as s:
        assert iq.oldest_open_complaints(s, queries.workspace_id(s, "T3")) == (0, ())


def test_median_time_to_resolved_over_the_span(any_db: Database) -> None:
    ws, other = workspaces(any_db)
    # Resolved after 1, 3 and 8 days (median 3 days), one long ago, and one elsewhere.
    for n, (opened_days_ago, resolved_days_ago) in enumerate(((4, 3), (5, 2), (9, 1), (200, 150))):
        story = add(any_db, ws, f"Complaint {n}", opened_days_ago, kind="complaint")
        with any_db.session() as s:
            complaints.resolve(s, ws, story, "U0FIXER", "fixed", now=NOW - timedelta(days=resolved_days_ago))
    elsewhere = add(any_db, other, "Elsewhere", 50, kind="complaint")
    with any_db.session() as s:
        complaints.resolve(s, other, elsewhere, "U0FIXER", "fixed", now=NOW)
    with any_db.session() as s:
        got = iq.insights(s, ws, STARTS, NOW)
        empty = iq.insights(s, queries.workspace_id(s, "T3"), STARTS, NOW)
    assert got.median_resolution == timedelta(days=3)
    assert got.open_complaints == 0 and empty.median_resolution is None


def test_quiet_channels_have_schedules_but_no_fresh_story(any_db: Database) -> None:
    ws, other = workspaces(any_db)
    now = datetime.now(UTC)
    spec = [ScheduleSpec("story", ("mon",), "09:00", "UTC")]
    with any_db.session() as s:
        for channel in ("CFEATURED", "CLOGGED", "CQUIET", "CSTALE", "CCOMPLAINT"):
            channels.set_channel_schedules(s, ws, channel, spec)
        channels.set_channel_schedules(s, other, "COTHER", spec)
        channels.note_channel_error(s, ws, "CNOSCHEDULE", "not_in_channel")  # a channel row, no schedule
    story = add(any_db, ws, "Acme", 100)
    with any_db.session() as s:
        posts.add_post(s, ws, "CFEATURED", "1.1", "story", story_id=story)
        posts.add_post(s, ws, "CQUIET", "1.2", "invitation")  # an invitation is no story
    with any_db.session() as s:
        queries.add_story(s, ws, Draft("Fresh", "words"), author="U1", channel="CLOGGED")
        queries.add_story(s, ws, Draft("Cross", "words", kind="complaint"), author="U1", channel="CCOMPLAINT")
        queries.add_story(
            s,
            ws,
            Draft("Old", "words"),
            author="U1",
            channel="CSTALE",
            created_at=now - timedelta(days=QUIET_DAYS + 1),
        )
    with any_db.session() as s:
        count, quiet = iq.quiet_channels(s, ws, now)
    assert count == 3
    assert [c.channel_id for c in quiet] == ["CCOMPLAINT", "CQUIET", "CSTALE"]
    assert all(c.last_featured is None for c in quiet)
    with any_db.session() as s:
        count, quiet = iq.quiet_channels(s, ws, now, limit=1)
        # Four weeks later the featured channel is quiet too, with the date of its last story.
        later, _ = iq.quiet_channels(s, ws, now + timedelta(days=QUIET_DAYS + 1))
        _, listed = iq.quiet_channels(s, ws, now + timedelta(days=QUIET_DAYS + 1), limit=10)
    assert count == 3 and len(quiet) == 1
    assert later == 5
    featured = next(c for c in listed if c.channel_id == "CFEATURED")
    assert featured.last_featured is not None and abs(featured.last_featured - now) < timedelta(minutes=5)


def test_insights_run_a_fixed_number_of_statements_and_load_no_story(any_db: Database) -> None:
    ws, _ = workspaces(any_db)
    with any_db.session() as s:
        channels.set_channel_schedules(s, ws, "C9", [ScheduleSpec("story", ("mon",), "09:00", "UTC")])

    def seed(count: int) -> None:
        rows = [
            {
                "workspace_id": ws,
                "customer": f"Customer {n % 37}",
                "quote": "words " * 20,
                "kind": ("praise", "complaint", "idea", "referral")[n % 4],
                "consent": ("internal", "anonymous", "public")[n % 3],
                "credited": [f"U0C{n % 11}", f"U0D{n % 5}"],
                "tags": ["export"],
                "author": f"U0A{n % 13}",
                "channel": "C1",
                "created_at": NOW - timedelta(hours=n * 7 % (24 * 90)),
                "updated_at": NOW,
            }
            for n in range(count)
        ]
        with any_db.session() as s:
            s.execute(insert(StoryRow), rows)

    def resolve_some(count: int) -> None:
        with any_db.session() as s:
            ids = s.scalars(
                select(StoryRow.id)
                .where(StoryRow.workspace_id == ws, StoryRow.kind == "complaint")
                .limit(count)
            ).all()
            for story_id in ids:
                complaints.resolve(s, ws, story_id, "U0FIXER", "fixed", now=NOW)

    seed(20)
    resolve_some(2)
    with any_db.session() as s, counted(any_db) as few:
        small = iq.insights(s, ws, STARTS, NOW)
    seed(2000)
    resolve_some(200)
    with any_db.session() as s, counted(any_db) as many:
        large = iq.insights(s, ws, STARTS, NOW)
    assert "LOADED A STORY ROW" not in few + many
    # Seven aggregates, and storage.complaints' median (a count, then the middle rows).
    assert len(few) == len(many) == 9, many
    assert small.logged < large.logged and large.open_complaints > 100
    assert len(large.credited) == 5 and len(large.customers) == 5 and len(large.oldest_complaints) == 5


# --- References ------------------------------------------------------------------------


def test_references_are_public_only_referrals_first_then_newest(any_db: Database) -> None:
    ws, other = workspaces(any_db)
    add(any_db, ws, "Newest Public", 1, consent="public")
    add(any_db, ws, "Old Referral", 50, consent="public", kind="referral")
    add(any_db, ws, "Older Public", 20, consent="public", tags=("export",))
    add(any_db, ws, "New Referral", 10, consent="public", kind="referral")
    add(any_db, ws, "Internal Referral", 0.5, kind="referral")
    add(any_db, ws, "Public Complaint", 0.5, kind="complaint", consent="public")
    add(any_db, ws, "Anonymous Referral", 0.5, kind="referral", consent="anonymous")
    gone = add(any_db, ws, "Deleted Public", 0.5, consent="public")
    add(any_db, other, "Other Public", 0.5, consent="public", kind="referral")
    with any_db.session() as s:
        queries.delete_story(s, ws, gone)
    with any_db.session() as s:
        names = lambda words=(): [x.customer for x in iq.references(s, ws, words)]  # noqa: E731
        assert names() == ["New Referral", "Old Referral", "Newest Public", "Older Public"]
        assert names(["export"]) == ["Older Public"]
        assert names(["REFERRAL"]) == ["New Referral", "Old Referral"]
        # Whatever the words, nothing but public stories.
        assert names(["internal"]) == [] and names(["anonymous"]) == [] and names(["other"]) == []
        assert names(["complaint"]) == []  # a complaint is no reference
        assert names(["%"]) == [] and names(["_"]) == []
        assert [x.customer for x in iq.references(s, ws, limit=1)] == ["New Referral"]
