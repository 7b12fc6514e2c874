"""PostgreSQL's pooled connections are pinged at checkout only after being idle a while
(storage.db.PG_PING_AFTER_IDLE_S): a busy pool pays no round trip per request, and a server
that dropped a connection costs at most the one statement that finds out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from storage import db as storage_db
from storage.db import Database


@pytest.fixture
def pg(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    yield database
    database.dispose()


def count_pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = database.engine.dialect.do_ping

    def counting(dbapi_conn: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_conn))

    monkeypatch.setattr(database.engine.dialect, "do_ping", counting)
    return pings


def select_one(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT 1")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged_and_an_idle_one_is(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = count_pings(pg, monkeypatch)
    for _ in range(20):  # new, then used a moment ago, again and again
        assert select_one(pg) == 1
    assert pings == []
    monkeypatch.setattr(storage_db, "PG_PING_AFTER_IDLE_S", 0.0)  # as if idle for a long while
    assert select_one(pg) == 1
    assert pings == [1]


def test_a_dropped_connection_used_a_moment_ago_fails_one_statement_then_the_pool_recovers(
    pg: Database,
) -> None:
    with pg.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(pg.url)  # as a server restart or an operator would, from outside
    try:
        with admin.connect() as killer:
            assert killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()
    failures = 0
    for _ in range(3):
        try:
            assert select_one(pg) == 1
        except OperationalError as e:
            assert e.connection_invalidated
            failures += 1
    # Not pinged (used a moment ago), the dead connection fails the one statement that finds
    # out; the pool then replaces it, and the next ones go through.
    assert failures == 1
