"""The process's workspace cache on a real database: an id is looked up once, a language for
LANGUAGE_TTL_SECONDS at most (at once after a change saved in this process), and a story is
stored only in the workspace row of the team that logs it."""

from __future__ import annotations

from sqlalchemy import func, select, update

from domain.story import Draft
from storage import queries
from storage.db import Database
from storage.models import StoryRow, Workspace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def count_workspaces(db: Database) -> int:
    with db.engine.begin() as conn:
        return int(conn.scalar(select(func.count()).select_from(Workspace)) or 0)


def test_an_id_is_looked_up_once_per_team_and_enterprise(db: Database) -> None:
    cache = queries.WorkspaceCache(db)
    first = cache.workspace_id("T1")
    other = cache.workspace_id("T1", "E1")
    assert first != other and count_workspaces(db) == 2
    with db.engine.begin() as conn:  # were it read again, the renamed row would not be found
        conn.execute(update(Workspace).where(Workspace.id == first).values(team_id="T1-renamed"))
    assert cache.workspace_id("T1") == first
    cache.forget("T1", "", first)
    assert cache.workspace_id("T1") not in (first, other)


def test_a_language_changed_elsewhere_is_seen_within_the_ttl(db: Database) -> None:
    clock = Clock()
    cache = queries.WorkspaceCache(db, clock=clock)
    ws = cache.workspace_id("T1")
    assert cache.language(ws) is None
    with db.engine.begin() as conn:  # as another process sharing the database would
        conn.execute(update(Workspace).where(Workspace.id == ws).values(language="de"))
    clock.now += queries.LANGUAGE_TTL_SECONDS - 0.1
    assert cache.language(ws) is None
    clock.now += 0.2
    assert cache.language(ws) == "de"


def test_a_language_saved_in_this_process_is_seen_at_once(db: Database) -> None:
    cache = queries.WorkspaceCache(db, clock=Clock())
    ws = cache.workspace_id("T1")
    assert cache.language(ws) is None
    with db.session() as session:
        queries.set_workspace_language(session, ws, "nl")
    assert cache.language(ws) == "nl"


def test_insert_story_stores_only_in_the_teams_own_row(db: Database) -> None:
    cache = queries.WorkspaceCache(db)
    ws = cache.workspace_id("T1")
    draft = Draft(customer="Acme", quote="It saved us a week", tags=("export",), credited=("U2222",))
    with db.engine.begin() as conn:
        story = queries.insert_story(conn, ws, "T1", "", draft, author="U1", channel="C1")
        assert queries.insert_story(conn, ws, "T2", "", draft, author="U1") is None
        assert queries.insert_story(conn, ws, "T1", "E1", draft, author="U1") is None
    assert story is not None
    with db.session() as session:
        [stored] = queries.live_stories(session, ws)
        assert session.scalar(select(func.count()).select_from(StoryRow)) == 1
    assert stored == story
