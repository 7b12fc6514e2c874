"""Pacing shared by every process on one database: the generic cell rate algorithm (GCRA).

One row per key holds the theoretical arrival time (TAT) of the next message. Reserving a
message moves the TAT one interval on, in one UPDATE (a row lock on PostgreSQL, the write
lock on SQLite), and says when the message may go: at once while the burst lasts, then one
interval apart. Every process reserves from the same row, so together they keep the rate.
"""

from __future__ import annotations

from sqlalchemy import case, literal, select, update
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import RateBucket


def reserve(db: Database, key: str, now: float, interval: float, burst: int) -> float:
    """Reserve the next message for `key`; returns when it may be sent (epoch seconds, ≥ now).

    Owns its transaction.
    """
    tolerance = interval * max(0, burst - 1)
    for _ in range(2):
        with db.session() as session:
            new_tat = session.execute(
                update(RateBucket)
                .where(RateBucket.key == key)
                .values(tat=case((RateBucket.tat > now, RateBucket.tat), else_=literal(now)) + interval)
                .returning(RateBucket.tat)
            ).scalar_one_or_none()
        if new_tat is not None:
            return max(now, float(new_tat) - interval - tolerance)
        _create(db, key)
    raise RuntimeError(f"rate bucket {key} could not be created")


def hold(db: Database, key: str, until: float, interval: float, burst: int) -> None:
    """Nobody sends for `key` before `until` (Slack answered 429 with Retry-After).

    Owns its transaction.
    """
    tolerance = interval * max(0, burst - 1)
    floor = until + tolerance
    _create(db, key)
    with db.session() as session:
        session.execute(
            update(RateBucket).where(RateBucket.key == key, RateBucket.tat < floor).values(tat=floor)
        )


def next_free(db: Database, key: str) -> float:
    """The stored TAT (0 when the key was never used); for tests and the operator."""
    with db.session() as session:
        found = session.scalar(select(RateBucket.tat).where(RateBucket.key == key))
    return float(found or 0.0)


def _create(db: Database, key: str) -> None:
    try:
        with db.session() as session:
            session.add(RateBucket(key=key, tat=0.0))
    except IntegrityError:
        pass  # another process made it first
