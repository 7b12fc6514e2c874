"""Group commit (storage.group_commit), on SQLite and PostgreSQL: writes waiting together share
one transaction, each is stored whole or not at all, and a failure reaches exactly the writes it
concerns."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from storage.db import Database
from storage.group_commit import DatabaseBusy, GroupCommit
from tests.conftest import database_locked

NOTES = "CREATE TABLE notes (id {key}, body TEXT NOT NULL UNIQUE)"


@pytest.fixture
def notes(db_url: str) -> Iterator[Database]:
    """A database of either back end with one table of notes."""
    db = Database(db_url)
    key = "SERIAL PRIMARY KEY" if db.engine.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
    with db.engine.begin() as conn:
        conn.execute(text(NOTES.format(key=key)))
    yield db
    db.dispose()


def add(body: str | None) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        return int(
            conn.execute(text("INSERT INTO notes (body) VALUES (:b) RETURNING id"), {"b": body}).scalar_one()
        )

    return work


def stored(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT body FROM notes")))


def group_of(db: Database) -> GroupCommit:
    group = db._group  # noqa: SLF001 - the database's group commit, inspected
    assert group is not None
    return group


failures: list[SQLAlchemyError] = []


def hold_the_turn(db: Database) -> tuple[threading.Thread, threading.Event, threading.Event]:
    """A write that takes the turn and waits inside its transaction until released; what it
    raises lands in `failures`."""
    failures.clear()
    inside, release = threading.Event(), threading.Event()

    def slow(conn: Connection) -> int:
        inside.set()
        assert release.wait(5)
        return add("first")(conn)

    def run() -> None:
        try:
            db.write(slow)
        except SQLAlchemyError as e:
            failures.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    assert inside.wait(5)
    return thread, inside, release


def queue_writes(db: Database, bodies: list[str | None]) -> tuple[list[threading.Thread], dict[Any, Any]]:
    results: dict[Any, Any] = {}

    def one(body: str | None) -> None:
        try:
            results[body] = db.write(add(body))
        except Exception as e:  # noqa: BLE001 - kept for the test to look at
            results[body] = e

    threads = [threading.Thread(target=one, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(group_of(db)._queued) < len(bodies):  # noqa: SLF001
        assert time.monotonic() < deadline, "the writes did not queue"
        time.sleep(0.005)
    return threads, results


def test_writes_waiting_together_share_one_commit_and_each_gets_its_own_row(notes: Database) -> None:
    first, _, release = hold_the_turn(notes)
    threads, results = queue_writes(notes, [f"note {i}" for i in range(8)])
    groups_before = group_of(notes).groups
    release.set()
    for t in [first, *threads]:
        t.join(5)
    assert stored(notes) == sorted(["first", *(f"note {i}" for i in range(8))])
    assert len(set(results.values())) == 8 and all(isinstance(v, int) for v in results.values())
    # The eight that waited behind the first were committed in one transaction, not eight.
    assert group_of(notes).groups == groups_before + 1


def test_a_write_that_breaks_a_constraint_fails_alone_and_the_rest_are_stored(notes: Database) -> None:
    notes.write(add("taken"))
    first, _, release = hold_the_turn(notes)
    threads, results = queue_writes(notes, ["a", "taken", "b", None])
    release.set()
    for t in [first, *threads]:
        t.join(5)
    assert isinstance(results["taken"], IntegrityError)  # UNIQUE
    assert isinstance(results[None], IntegrityError)  # NOT NULL
    assert isinstance(results["a"], int) and isinstance(results["b"], int)
    assert stored(notes) == ["a", "b", "first", "taken"]


def test_a_locked_database_fails_every_write_of_the_group_and_stores_none(notes: Database) -> None:
    with database_locked(notes):  # SQLite: an exclusive lock; PostgreSQL: table locks
        first, _, release = hold_the_turn(notes)
        threads, results = queue_writes(notes, ["x", "y", "z"])
        started = time.monotonic()
        release.set()
        for t in [first, *threads]:
            t.join(10)
        elapsed = time.monotonic() - started
    # Each is told the database failed: the lock's timeout (SQLite's "locked", PostgreSQL's
    # statement timeout), or its own turn's wait running out while the turn holder waited for
    # that lock. None is retried write by write.
    assert all(isinstance(results[b], SQLAlchemyError) for b in "xyz"), results
    assert len(failures) == 1 and isinstance(failures[0], OperationalError), failures
    assert elapsed < 2 * 2.0 + 1, elapsed
    assert stored(notes) == []


def test_a_write_that_cannot_get_its_turn_in_time_gives_up_and_stores_nothing(notes: Database) -> None:
    group = group_of(notes)
    group.busy_seconds = 0.3
    assert group._turn.acquire()  # noqa: SLF001 - a turn held by a write that hangs
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseBusy):
            notes.write(add("late"))
        assert time.monotonic() - started < 1.5
        assert group._queued == []  # noqa: SLF001 - it left the queue: nobody will write it later
    finally:
        group._turn.release()  # noqa: SLF001
    notes.write(add("next"))
    assert stored(notes) == ["next"]


def test_many_threads_writing_at_once_lose_and_double_nothing(notes: Database) -> None:
    bodies = [f"n{i}" for i in range(200)]
    ids: list[int] = []
    lock = threading.Lock()

    def run(chunk: list[str]) -> None:
        for b in chunk:
            i = notes.write(add(b))
            with lock:
                ids.append(i)

    threads = [threading.Thread(target=run, args=(bodies[k::10],)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert stored(notes) == sorted(bodies) and len(set(ids)) == 200
    assert group_of(notes).groups <= 200
