"""Group commit: writes that wait at the same moment share one transaction.

SQLite lets one connection write at a time, and with `synchronous=FULL` (the default, kept:
a story the user saw confirmed survives a power cut) every commit waits for the disk, so under
load each write would wait for every earlier one's sync in turn. On PostgreSQL a write alone
is three round trips (BEGIN, the statement, COMMIT), each a turn for the GIL and the server.
Here the writes of this process queue up; whoever holds the turn commits everything queued by
then in one transaction, one sync and one BEGIN/COMMIT for all, and wakes their threads. A
write that waits finds its result already there, or takes the next turn itself. With no
other write waiting, a write is its own group, as it would be without this.

Every write is run whole, or not at all: when the shared transaction fails because of one
write (a constraint, bad data), each is run again alone in its own transaction, so only that
one fails; when the database itself fails (locked, disk trouble), every write in the group
gets that error, and nothing of any of them is stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, exc

log = logging.getLogger("impact.storage")

T = TypeVar("T")
_UNSET: Any = object()
TAKEN_WAIT_SECONDS = 30.0  # a write in a group being committed waits this long for the outcome


class DatabaseBusy(exc.SQLAlchemyError):
    """A write waited its whole busy timeout for this process's other writers."""


class _Write(Generic[T]):
    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.done = threading.Event()
        self.value: Any = _UNSET
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        value: T = self.value
        return value


class GroupCommit:
    """Runs writes on `engine`, committing those that wait at the same moment together."""

    def __init__(self, engine: Engine, busy_seconds: float) -> None:
        self.engine = engine
        self.busy_seconds = busy_seconds
        self._queued: list[_Write[Any]] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()
        self.groups = 0  # transactions committed or tried, for tests and benchmarks

    def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work(conn)` in a transaction, maybe shared, and return what it returned once
        that transaction has committed; raise what it raised, or the commit's error."""
        write: _Write[T] = _Write(work)
        with self._queue_lock:
            self._queued.append(write)
        if not self._turn.acquire(timeout=self.busy_seconds):
            with self._queue_lock:
                if write in self._queued:  # nobody took it: give up, nothing was written
                    self._queued.remove(write)
                    raise DatabaseBusy(f"this process's writes held the database for {self.busy_seconds:g} s")
            # A turn holder took it and is committing it: its commit decides. Every statement
            # there has its own deadline, so this ends; the bound is for a disk that hangs.
            if not write.done.wait(TAKEN_WAIT_SECONDS):
                raise DatabaseBusy("a shared commit did not finish; this write may or may not be stored")
            return write.outcome()
        try:
            if not write.done.is_set():
                with self._queue_lock:
                    group, self._queued = self._queued, []
                self._commit(group)
        finally:
            self._turn.release()
        return write.outcome()

    def _commit(self, group: list[_Write[Any]]) -> None:
        self.groups += 1
        try:
            try:
                with self.engine.begin() as conn:
                    for write in group:
                        write.value = write.work(conn)
            except exc.OperationalError as e:  # the database's trouble, not one write's
                for write in group:
                    write.value, write.error = _UNSET, e
            except Exception as e:  # noqa: BLE001 - one write's fault: find out whose
                if len(group) == 1:
                    group[0].value, group[0].error = _UNSET, e
                else:
                    log.info("a shared commit of %d writes failed (%r); each runs alone", len(group), e)
                    for write in group:
                        self._alone(write)
        finally:
            for write in group:
                if write.value is _UNSET and write.error is None:  # interrupted mid-commit
                    write.error = DatabaseBusy("the shared commit was interrupted")
                write.done.set()

    def _alone(self, write: _Write[Any]) -> None:
        self.groups += 1
        try:
            with self.engine.begin() as conn:
                write.value, write.error = write.work(conn), None
        except Exception as e:  # noqa: BLE001 - handed to the thread that asked
            write.value, write.error = _UNSET, e
