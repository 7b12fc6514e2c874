"""Story queries on a SQLite file and on the local PostgreSQL: scoping, search, migrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from domain.story import Draft
from storage import queries
from storage.db import Database, current_revision, head_revision


def test_story_round_trip_and_workspace_scoping(any_db: Database) -> None:
    draft = Draft(customer="Acme", quote="Fast & friendly <3", tags=("export",), credited=("U0222",))
    with any_db.session() as s:
        a = queries.workspace_id(s, "TA")
        b = queries.workspace_id(s, "TB")
        story = queries.add_story(s, a, draft, author="U1", channel="C1")
    with any_db.session() as s:
        assert queries.get_story(s, a, story.id) == story
        # Another workspace never sees it, by id, list or search.
        assert queries.get_story(s, b, story.id) is None
        assert queries.stories_by_author(s, b, "U1") == []
        assert queries.search_stories(s, b, ["acme"]) == []
        assert queries.delete_story(s, b, story.id) is None
        assert queries.update_story(s, b, story.id, draft) is None
    with any_db.session() as s:
        got = queries.get_story(s, a, story.id)
        assert got is not None and got.quote == "Fast & friendly <3"
        assert got.created_at is not None and got.created_at.tzinfo is not None


def test_workspace_id_is_stable_and_enterprise_aware(any_db: Database) -> None:
    with any_db.session() as s:
        first = queries.workspace_id(s, "T1")
        again = queries.workspace_id(s, "T1")
        grid = queries.workspace_id(s, "T1", "E1")
    assert first == again and grid != first


def test_search_matches_all_words_in_any_field_and_escapes_like(any_db: Database) -> None:
    with any_db.session() as s:
        ws = queries.workspace_id(s, "T1")
        queries.add_story(s, ws, Draft(customer="Acme", quote="The export saved a day"), author="U1")
        queries.add_story(
            s, ws, Draft(customer="Beta", quote="100% uptime", tags=("reliability",)), author="U1"
        )
        queries.add_story(s, ws, Draft(customer="Gamma", quote="meh", impact="Export fixed"), author="U2")
    with any_db.session() as s:
        names = lambda words: sorted(x.customer for x in queries.search_stories(s, ws, words))  # noqa: E731
        assert names(["export"]) == ["Acme", "Gamma"]
        assert names(["EXPORT", "day"]) == ["Acme"]
        assert names(["100%"]) == ["Beta"]
        assert names(["%"]) == ["Beta"]
        assert names(["reliability"]) == ["Beta"]
        assert names(["_"]) == []


def test_list_newest_first_and_soft_delete(any_db: Database) -> None:
    now = datetime.now(UTC)
    with any_db.session() as s:
        ws = queries.workspace_id(s, "T1")
        old = queries.add_story(
            s, ws, Draft(customer="Old", quote="q"), "U1", created_at=now - timedelta(days=3)
        )
        new = queries.add_story(s, ws, Draft(customer="New", quote="q"), "U1", created_at=now)
    with any_db.session() as s:
        assert [x.id for x in queries.stories_by_author(s, ws, "U1")] == [new.id, old.id]
        assert queries.delete_story(s, ws, old.id) is not None
    with any_db.session() as s:
        assert [x.id for x in queries.live_stories(s, ws)] == [new.id]
        assert queries.erase_stories(s, ws, queries.customer_story_ids(s, ws, "old")) == 1


def test_failed_transaction_leaves_no_half_written_row(any_db: Database) -> None:
    with any_db.session() as s:
        ws = queries.workspace_id(s, "T1")
    with pytest.raises(RuntimeError), any_db.session() as s:
        queries.add_story(s, ws, Draft(customer="Half", quote="q"), "U1")
        raise RuntimeError("crash before commit")
    with any_db.session() as s:
        assert queries.live_stories(s, ws) == []


def test_migrations_reach_head_and_are_idempotent(any_db: Database) -> None:
    any_db.migrate()
    assert current_revision(any_db.engine) == head_revision(any_db.engine)
    tables = set(inspect(any_db.engine).get_table_names())
    assert {"workspaces", "stories", "alembic_version"} <= tables


@pytest.mark.sqlite_only(
    "checks SQLite's own engine settings (WAL, busy timeout); PostgreSQL's are in test_partition"
)
def test_sqlite_uses_wal_and_busy_timeout(db: Database) -> None:
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
