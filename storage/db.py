"""The engine, sessions and migrations, with timeouts on every way a database can hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.group_commit import GroupCommit

STORAGE = Path(__file__).resolve().parent
MIGRATIONS = STORAGE / "migrations"
T = TypeVar("T")
ALEMBIC_INI = STORAGE / "alembic.ini"

# SQLite: wait this long for another writer's lock, then fail (and the user gets an apology).
SQLITE_BUSY_MS = 2000
# SQLite keeps a page cache in each connection, in the bot's own memory (2 MB by default), and
# the pool keeps connections open: the process grows with the database file, once per pooled
# connection. Pages it does not cache come from the operating system's file cache, which every
# connection shares, at the price of a read call each (bench/README.md "bench.memory").
SQLITE_CACHE_KIB = 512
SQLITE_POOL_SIZE = 15  # connections to a SQLite file, all kept open (see _sqlite_engine)
# PostgreSQL. Every query here takes milliseconds and users wait on them, so a few seconds
# without an answer means the database or the network is in trouble, not that it is busy.
# Connecting (TCP, TLS, startup) gives up after this; libpq's smallest honoured value.
PG_CONNECT_TIMEOUT_S = 2
# The server cancels a statement running longer than this (a lock wait or a runaway query).
PG_STATEMENT_TIMEOUT_MS = 2000
# The client gives up on a server silent this long: the statement timeout plus time for the
# server's cancellation to arrive. Only a dead network or server stays silent longer.
PG_ANSWER_DEADLINE_S = 2.5
# Before a pooled connection is handed out, an empty query must answer within this. A healthy
# server answers in milliseconds, and a miss only costs a reconnect, so it can be short.
PG_PING_DEADLINE_S = 1.0
# The kernel drops a connection whose sent data stays unacknowledged this long (a partition).
PG_TCP_USER_TIMEOUT_MS = 2500
# Keepalive probes find idle pooled connections whose peer vanished: after 5 s idle, every 1 s, 3 misses.
PG_KEEPALIVES_IDLE_S, PG_KEEPALIVES_INTERVAL_S, PG_KEEPALIVES_COUNT = 5, 1, 3
# A pooled connection used this recently is not pinged at checkout: under load every request
# would pay a round trip for a connection that answered a moment ago. A server restarted within
# this window fails one request (an apology, nothing half-written), and SQLAlchemy then
# replaces every pooled connection, as a failed ping would have.
PG_PING_AFTER_IDLE_S = 1.0
# A request waits at most this long for a free pooled connection, then fails with an apology.
POOL_TIMEOUT_S = 2
# /healthz and doctor wait this long for `SELECT 1`, so a health check answers within 2 s.
PING_DEADLINE_S = 1.5


class Database:
    """One engine and its session factory for the whole process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._probe = _SingleFlight(self._select_one)
        # SQLite: this process's writes queue up and commit in groups (storage.group_commit).
        # The hot path's writes queue up and commit in groups (storage.group_commit).
        turn = SQLITE_BUSY_MS / 1000 if self.engine.dialect.name == "sqlite" else POOL_TIMEOUT_S
        self._group = GroupCommit(self.engine, turn)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run the hot path's write, `work(conn)`, in a transaction; return what it returned
        once committed. Writes that wait at the same moment share one transaction
        (storage.group_commit): on SQLite one sync of the disk, on PostgreSQL one BEGIN and
        one COMMIT, for the group.

        Not in autocommit, though one statement would be atomic alone: a statement whose answer
        is lost (a partition, the answer deadline) could still commit on the server after the
        user was told nothing was saved; without its COMMIT the server rolls it back.
        """
        return self._group.run(work)

    def ping(self, deadline: float = PING_DEADLINE_S) -> bool:
        """True when the database answers `SELECT 1` within `deadline` seconds.

        The query runs in a worker thread so a hung database cannot hold the caller; while one
        ping is still waiting, later callers wait for that same ping instead of starting more.
        """
        return self._probe.run(deadline)

    def _select_one(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def describe(self) -> dict[str, str]:
        """Which database this is, for logs and health checks: back end and host, no credentials."""
        return describe_url(self.url)

    def migrate(self) -> None:
        """Bring the schema up to date with Alembic.

        PostgreSQL migrates on its own short-lived engine without statement deadlines: a schema
        change on a large table may rightly take longer than any request should.
        """
        if make_url(self.url).get_backend_name() != "postgresql":
            migrate(self.engine)
            return
        engine = make_engine(self.url, deadlines=False)
        try:
            migrate(engine)
        finally:
            engine.dispose()

    def dispose(self) -> None:
        self.engine.dispose()


def describe_url(url: str | URL) -> dict[str, str]:
    parsed = make_url(url)
    shown = {"backend": parsed.get_backend_name()}
    if parsed.host:
        shown["host"] = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
    return shown


def make_engine(url: str, *, deadlines: bool = True, **kwargs: Any) -> Engine:
    """An engine that fails fast rather than hangs.

    SQLite gets WAL, a busy timeout and foreign keys on every connection. PostgreSQL gets a
    connect timeout, TCP keepalives and user timeout, a pool timeout and pre-ping, and, with
    `deadlines`, a server-side statement timeout and a client-side answer deadline.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed, **kwargs)
    deadlines = deadlines and parsed.get_backend_name() == "postgresql"
    deadlines = deadlines and parsed.get_driver_name() == "psycopg"
    # Pre-ping replaces connections a restarted server closed; with deadlines, our own ping does.
    kwargs.setdefault("pool_pre_ping", not deadlines)
    if parsed.get_backend_name() != "postgresql":
        return create_engine(url, **kwargs)
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_S)
    connect_args = _pg_connect_args(parsed, deadlines)
    connect_args.update(kwargs.pop("connect_args", {}))
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    if deadlines:
        _add_answer_deadlines(engine)
    return engine


def _add_answer_deadlines(engine: Engine) -> None:
    """Connections that give up on a silent server, pinged with a short deadline at checkout."""
    connection_class = _answer_deadline_connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        return connection_class.connect(*cargs, **cparams)

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # SQLAlchemy's pessimistic-disconnect recipe, as pool_pre_ping does it, but the ping
        # waits PG_PING_DEADLINE_S rather than the answer deadline of real queries, and only
        # for a connection idle a while: a new one, or one that answered a moment ago, is fresh.
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PG_PING_AFTER_IDLE_S:
            return
        dbapi_conn.answer_deadline = PG_PING_DEADLINE_S
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as e:
            # Every pooled connection is suspect now: the pool drops them all and reconnects.
            raise exc.InvalidatePoolError() from e
        finally:
            dbapi_conn.answer_deadline = PG_ANSWER_DEADLINE_S


def _sqlite_engine(url: str, parsed: URL, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    # The driver's own timeout waits for a lock; the pragma covers the same inside SQLite.
    connect_args.setdefault("timeout", SQLITE_BUSY_MS / 1000)
    connect_args.setdefault("check_same_thread", False)
    if parsed.database and parsed.database != ":memory:":
        # As many connections as SQLAlchemy's default pool allows at once (5 + 10 overflow),
        # but kept open: overflow connections, opened and closed by ever other threads, leave
        # their memory spread over glibc's per-thread malloc arenas, where it stays.
        kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", POOL_TIMEOUT_S)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if parsed.database and parsed.database != ":memory:":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def _pg_connect_args(parsed: URL, deadlines: bool) -> dict[str, Any]:
    """libpq parameters for our timeouts; any the URL sets itself win."""
    args: dict[str, Any] = {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "keepalives": 1,
        "keepalives_idle": PG_KEEPALIVES_IDLE_S,
        "keepalives_interval": PG_KEEPALIVES_INTERVAL_S,
        "keepalives_count": PG_KEEPALIVES_COUNT,
    }
    if _libpq_version() >= 120000:  # tcp_user_timeout arrived in libpq 12
        args["tcp_user_timeout"] = PG_TCP_USER_TIMEOUT_MS
    args = {key: value for key, value in args.items() if key not in parsed.query}
    if deadlines:
        given = parsed.query.get("options", "")
        given = given if isinstance(given, str) else " ".join(given)
        args["options"] = f"{given} -c statement_timeout={PG_STATEMENT_TIMEOUT_MS}".strip()
    return args


def _libpq_version() -> int:
    try:
        import psycopg

        return int(psycopg.pq.version())
    except Exception:
        return 0


class _NoAnswer(Exception):
    pass


def _silence_deadline(gen: Generator[Any, Any, Any], seconds: float) -> Generator[Any, Any, Any]:
    """Drive psycopg's I/O generator, failing once the socket has been quiet for `seconds`.

    psycopg's wait loop wakes the generator every 0.1 s with "nothing ready" while it waits,
    which is where the silence is measured; any readable or writable socket resets it.
    """
    quiet_since = time.monotonic()
    try:
        state = next(gen)
        while True:
            ready = yield state
            if ready:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > seconds:
                gen.close()
                raise _NoAnswer(f"no answer from the database within {seconds:g} s")
            state = gen.send(ready)
    except StopIteration as done:
        return done.value


_CONNECTION_CLASS: Any = None


def _answer_deadline_connection_class() -> Any:
    """A psycopg connection whose every wait on the server ends after `answer_deadline` s of silence.

    PostgreSQL's statement_timeout cannot help when the network is gone: the server's answer
    never arrives. This bounds every query, commit and pool pre-ping on the client instead.
    A timed-out connection is closed (its protocol state is unknown), which SQLAlchemy sees as
    a disconnect, so the pool replaces it.
    """
    global _CONNECTION_CLASS
    if _CONNECTION_CLASS is None:
        import psycopg

        class AnswerDeadlineConnection(psycopg.Connection):  # type: ignore[type-arg]
            answer_deadline: float = PG_ANSWER_DEADLINE_S

            def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    return super().wait(_silence_deadline(gen, self.answer_deadline), *args, **kwargs)
                except _NoAnswer as e:
                    self.close()
                    raise psycopg.OperationalError(str(e)) from None

        _CONNECTION_CLASS = AnswerDeadlineConnection
    return _CONNECTION_CLASS


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    result: bool = False


class _SingleFlight:
    """Runs `check` in a daemon thread, at most one at a time, and waits for it with a deadline."""

    def __init__(self, check: Any) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._flight: _Flight | None = None

    def run(self, deadline: float) -> bool:
        with self._lock:
            flight = self._flight
            if flight is None:
                flight = self._flight = _Flight()
                threading.Thread(target=self._fly, args=(flight,), name="db-ping", daemon=True).start()
        return flight.result if flight.done.wait(deadline) else False

    def _fly(self, flight: _Flight) -> None:
        try:
            flight.result = bool(self._check())
        finally:
            with self._lock:
                self._flight = None
            flight.done.set()


def alembic_config(engine: Engine | None = None) -> Any:
    """Alembic's configuration from storage/alembic.ini; `engine`, when given, is migrated."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS))
    # storage is imported already; the ini's sys.path entry is for the alembic command only.
    config.set_main_option("prepend_sys_path", "")
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Run Alembic's upgrade to head on this engine."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine | None = None) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
