"""The complaint life cycle in storage, on SQLite and PostgreSQL: open complaints with their age,
owning and resolving once, the median time to resolved, and the claim that posts each once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import JSON, bindparam, inspect, text

from domain.complaint import OPEN, OWNED, RESOLVED
from domain.story import Draft, Story
from storage import complaints as store
from storage import queries
from storage.db import Database, alembic_config
from storage.models import UTCDateTime

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def add(
    db: Database, customer: str, kind: str = "complaint", at: datetime = T0, team: str = "T111"
) -> tuple[int, Story]:
    with db.session() as s:
        ws = queries.workspace_id(s, team)
        story = queries.add_story(
            s, ws, Draft(customer=customer, quote="It broke", kind=kind), "U0REP", created_at=at
        )
    return ws, story


def track(db: Database, ws: int, story: Story) -> None:
    with db.session() as s:
        assert store.track(s, ws, story.id) is not None


def test_open_complaints_with_their_age_tracked_or_imported_and_nothing_else(any_db: Database) -> None:
    ws, old = add(any_db, "Old", at=T0 - timedelta(days=10))
    _, new = add(any_db, "New", at=T0 - timedelta(hours=2))
    _, done = add(any_db, "Done", at=T0 - timedelta(days=3))
    _, gone = add(any_db, "Gone")
    add(any_db, "Praise", kind="praise")
    add(any_db, "Elsewhere", team="T999")
    track(any_db, ws, new)  # logged in Slack; "Old" was imported and is never tracked
    with any_db.session() as s:
        assert store.resolve(s, ws, done.id, "U0FIX", "Fixed", now=T0 - timedelta(days=1)).done
        queries.delete_story(s, ws, gone.id)
    with any_db.session() as s:
        found = store.open_complaints(s, ws, now=T0)
        assert [(c.story.customer, c.age) for c in found] == [
            ("Old", timedelta(days=10)),
            ("New", timedelta(hours=2)),
        ]
        assert [c.complaint.tracked for c in found] == [False, True]
        assert all(c.complaint.state == OPEN and not c.complaint.posted for c in found)
        newest = store.open_complaints(s, ws, now=T0, limit=1, newest_first=True)
        assert [c.story.customer for c in newest] == ["New"]
        assert store.count_open(s, ws) == 2
        # A tracked complaint can be waited for; an imported one never is.
        assert store.unposted(s, ws) == [new.id] and store.count_unposted(s, ws) == 1


def test_owning_is_first_come_and_resolving_once_with_times(any_db: Database) -> None:
    ws, story = add(any_db, "Acme")
    track(any_db, ws, story)
    with any_db.session() as s:
        first = store.take_ownership(s, ws, story.id, "U0ANN", now=T0 + timedelta(hours=1))
    with any_db.session() as s:
        second = store.take_ownership(s, ws, story.id, "U0BOB", now=T0 + timedelta(hours=2))
    assert first.done and first.complaint is not None and first.complaint.state == OWNED
    assert not second.done and second.complaint is not None
    assert (second.complaint.owner, second.complaint.owned_at) == ("U0ANN", T0 + timedelta(hours=1))
    with any_db.session() as s:
        resolved = store.resolve(s, ws, story.id, "U0BOB", "Retries", now=T0 + timedelta(days=2))
    with any_db.session() as s:
        again = store.resolve(s, ws, story.id, "U0EVE", "Other", now=T0 + timedelta(days=3))
        late_owner = store.take_ownership(s, ws, story.id, "U0EVE")
    assert resolved.done and resolved.complaint is not None and resolved.story is not None
    c = resolved.complaint
    assert (c.state, c.resolved_by, c.change, c.owner) == (RESOLVED, "U0BOB", "Retries", "U0ANN")
    assert c.resolved_at == T0 + timedelta(days=2) and c.age(T0 + timedelta(days=9)) == timedelta(days=2)
    assert not again.done and again.complaint is not None and again.complaint.resolved_by == "U0BOB"
    assert not late_owner.done and late_owner.complaint is not None and late_owner.complaint.state == RESOLVED
    # Other workspaces, other kinds and unknown ids are no complaint.
    with any_db.session() as s:
        other = queries.workspace_id(s, "T999")
        assert store.take_ownership(s, other, story.id, "U0ANN").complaint is None
        assert store.resolve(s, ws, 999_999, "U0ANN", "x").complaint is None
    _, praise = add(any_db, "Praise", kind="praise")
    with any_db.session() as s:
        assert store.take_ownership(s, ws, praise.id, "U0ANN").complaint is None


def test_resolving_an_imported_complaint_tracks_it_and_whoever_resolved_it_owned_it(any_db: Database) -> None:
    ws, story = add(any_db, "Imported")
    with any_db.session() as s:
        step = store.resolve(s, ws, story.id, "U0FIX", "Done", now=T0 + timedelta(hours=5))
    assert step.done and step.complaint is not None
    assert step.complaint.owner == "U0FIX" and step.complaint.owned_at == T0 + timedelta(hours=5)


def test_median_time_to_resolved_is_computed_in_the_database(any_db: Database) -> None:
    ws, _ = add(any_db, "Nothing resolved")
    with any_db.session() as s:
        assert store.median_resolution_time(s, ws) is None
        assert store.resolution_times(s, ws) == []
    hours = [5, 1, 30, 2]
    for n, h in enumerate(hours):
        _, story = add(any_db, f"C{n}")
        with any_db.session() as s:
            assert store.resolve(s, ws, story.id, "U0FIX", "x", now=T0 + timedelta(hours=h)).done
    with any_db.session() as s:
        assert store.resolution_times(s, ws) == [timedelta(hours=h) for h in sorted(hours)]
        assert store.median_resolution_time(s, ws) == timedelta(hours=3.5)  # (2 + 5) / 2
        since = T0 + timedelta(hours=3)
        assert store.median_resolution_time(s, ws, since=since) == timedelta(hours=17.5)
        assert store.resolution_times(s, ws, limit=1) == [timedelta(hours=1)]
    _, odd = add(any_db, "Odd")
    with any_db.session() as s:
        store.resolve(s, ws, odd.id, "U0FIX", "x", now=T0 + timedelta(hours=4))
    with any_db.session() as s:
        assert store.median_resolution_time(s, ws) == timedelta(hours=4)


def test_the_post_claim_lets_one_win_and_a_taken_over_claim_checks_first(any_db: Database) -> None:
    ws, story = add(any_db, "Acme")
    track(any_db, ws, story)
    first = store.claim_post(any_db, ws, story.id, "C0IMP", LEASE, now=T0)
    assert first is not None and first.check_since is None and first.story.customer == "Acme"
    assert store.claim_post(any_db, ws, story.id, "C0IMP", LEASE, now=T0 + timedelta(minutes=1)) is None
    # The first process died mid-post: after the lease another takes over, and must look first.
    later = T0 + LEASE + timedelta(seconds=1)
    taken = store.claim_post(any_db, ws, story.id, "C0IMP", LEASE, now=later)
    assert taken is not None and (taken.check_channel, taken.check_since) == ("C0IMP", T0)
    # A lost answer: given back, checked first by the next attempt at once.
    store.release_post(any_db, ws, story.id, uncertain_since=later)
    retry = store.claim_post(any_db, ws, story.id, "C0IMP", LEASE, now=later + timedelta(seconds=5))
    assert retry is not None and retry.check_since == later
    # Slack refused the channel: nothing there, nothing to check.
    store.release_post(any_db, ws, story.id, error="not_in_channel")
    refused = store.claim_post(any_db, ws, story.id, "C0NEW", LEASE, now=later + timedelta(seconds=9))
    assert refused is not None and refused.check_since is None
    with any_db.session() as s:
        store.finish_post(s, ws, story.id, "C0NEW", "1700000000.000100")
    assert store.claim_post(any_db, ws, story.id, "C0NEW", LEASE, now=later + timedelta(hours=1)) is None
    with any_db.session() as s:
        found = store.get_complaint(s, ws, story.id)
        assert found is not None and found[1].posted and found[1].channel == "C0NEW"
        assert store.unposted(s, ws) == []
        assert store.posted_messages(s, ws, [story.id]) == [(story.id, "C0NEW", "1700000000.000100")]


def test_improvement_channel_is_stored_per_workspace(any_db: Database) -> None:
    ws, _ = add(any_db, "Acme")
    other, _ = add(any_db, "Other", team="T999")
    with any_db.session() as s:
        store.set_improvement_channel(s, ws, "C0IMP")
    with any_db.session() as s:
        assert store.improvement_channel(s, ws) == "C0IMP"
        assert store.improvement_channel(s, other) is None
        store.set_improvement_channel(s, ws, None)
    with any_db.session() as s:
        assert store.improvement_channel(s, ws) is None


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: Any) -> Iterator[Database]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    database = Database(url)
    yield database
    database.dispose()


def test_complaints_stored_before_migration_0004_stay_open_and_unposted(empty_db: Database) -> None:
    command.upgrade(alembic_config(empty_db.engine), "0003")
    # Written with plain SQL into the schema of 0003, as a bot of that version stored them.
    with empty_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workspaces (team_id, enterprise_id, created_at) VALUES ('T111', '', :at)"
            ).bindparams(bindparam("at", type_=UTCDateTime())),
            {"at": T0},
        )
        ws = conn.execute(text("SELECT id FROM workspaces WHERE team_id = 'T111'")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO stories (workspace_id, customer, quote, kind, tags, credited, author,"
                " created_at, updated_at) VALUES (:ws, 'Before', 'Old', 'complaint', :none, :none,"
                " 'U0REP', :at, :at)"
            ).bindparams(bindparam("none", type_=JSON()), bindparam("at", type_=UTCDateTime())),
            {"ws": ws, "none": [], "at": T0},
        )
    empty_db.migrate()
    with empty_db.session() as s:
        [found] = store.open_complaints(s, ws, now=T0 + timedelta(days=1))
        assert found.story.customer == "Before" and found.age == timedelta(days=1)
        assert not found.complaint.tracked and store.unposted(s, ws) == []
        assert store.track(s, ws, found.story.id) is not None
    command.downgrade(alembic_config(empty_db.engine), "0003")
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT customer FROM stories")).scalars().all() == ["Before"]
        assert "complaints" not in inspect(conn).get_table_names()
