"""A SQLite file's connections, as the bot's memory needs them: the pool keeps every connection
it opens (no overflow opened and closed again), each with a small page cache."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import text

from storage.db import SQLITE_CACHE_KIB, SQLITE_POOL_SIZE, Database


def test_sqlite_connections_are_kept_open_with_a_small_page_cache(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'impact.db'}")
    try:
        with ExitStack() as stack:
            conns = [stack.enter_context(db.engine.connect()) for _ in range(SQLITE_POOL_SIZE)]
            assert {c.execute(text("PRAGMA cache_size")).scalar() for c in conns} == {-SQLITE_CACHE_KIB}
        # All of them stay in the pool for the next requests, none is closed.
        assert db.engine.pool.checkedin() == SQLITE_POOL_SIZE  # type: ignore[attr-defined]
    finally:
        db.dispose()
