"""Shared fixtures: the Slack stand-in, real databases, and the real app served over HTTP."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.app import create_app
from bot.server import wsgi_app
from bot.services import Services, build_services
from bot.settings import Settings
from storage.db import Database
from tests.signing import post_signed
from tests.slack_standin import SlackStandin

# Generating hostile Slack payloads is slow and large by design, and the machine is shared and
# noisy: the checks that judge generation speed would fail tests for reasons of no interest.
hypothesis_settings.register_profile(
    "impact",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
hypothesis_settings.load_profile("impact")

SECRET = "test-signing-secret"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as s:
        yield s


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'impact.db'}"


# ---- Which databases the suite runs on ------------------------------------------------------
#
# Every test that takes `db` (directly or through `running`, `any_db`, ...) runs once per backend,
# with the backend in its id: test_x[sqlite], test_x[postgresql]. IMPACT_TEST_DATABASE picks them:
# unset or "both" runs both (CI), "sqlite" or "postgresql" runs one. Asking for PostgreSQL when it
# does not answer fails those tests; only IMPACT_TEST_DATABASE=sqlite leaves PostgreSQL out.

BACKENDS = ("sqlite", "postgresql")
_CHOICE_VAR = "IMPACT_TEST_DATABASE"


def selected_backends() -> tuple[str, ...]:
    """The backends IMPACT_TEST_DATABASE asks for; a value it does not know stops the run."""
    choice = os.environ.get(_CHOICE_VAR, "").strip().lower() or "both"
    if choice == "both":
        return BACKENDS
    if choice in BACKENDS:
        return (choice,)
    raise pytest.UsageError(f"{_CHOICE_VAR}={choice!r}: use both (the default), sqlite or postgresql")


def pytest_configure(config: pytest.Config) -> None:
    selected_backends()  # a misspelt choice fails at once, not as 500 odd skips


def pytest_report_header(config: pytest.Config) -> str:
    return f"databases: {', '.join(selected_backends())} (choose with {_CHOICE_VAR}=both|sqlite|postgresql)"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize every test that uses a database over the chosen backends."""
    if "db_backend" not in metafunc.fixturenames:
        return
    backends = selected_backends()
    marker = metafunc.definition.get_closest_marker("sqlite_only")
    if marker is not None:
        if not (marker.args or marker.kwargs.get("reason")):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason")
        backends = tuple(b for b in backends if b == "sqlite")
    params = [pytest.param(b, id=b) for b in backends] or [
        pytest.param(
            "sqlite", id="sqlite", marks=pytest.mark.skip(reason=f"SQLite-only; {_CHOICE_VAR} excludes it")
        )
    ]
    metafunc.parametrize("db_backend", params)


@pytest.fixture
def db_backend(request: Any) -> str:
    """This test's backend, sqlite or postgresql, as pytest_generate_tests filled it in."""
    backend: str = request.param
    return backend


@pytest.fixture
def db_url(request: Any, db_backend: str) -> str:
    """A fresh, empty database of this test's backend: a SQLite file or a PostgreSQL database."""
    url: str = request.getfixturevalue("pg_url" if db_backend == "postgresql" else "sqlite_url")
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """The test's database, migrated: runs as [sqlite] and as [postgresql]."""
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def any_db(db: Database) -> Database:
    """The same as `db` (older name of the storage tests)."""
    return db


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:
        return f"PostgreSQL at 127.0.0.1:5432 does not answer: {str(e).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_available()


def require_postgresql(reason: str | None) -> None:
    """Skip when the run leaves PostgreSQL out; fail, saying how, when it is wanted but down."""
    if "postgresql" not in selected_backends():
        pytest.skip(f"{_CHOICE_VAR}={os.environ.get(_CHOICE_VAR)} leaves PostgreSQL out")
    if reason:
        pytest.fail(
            f"{reason}. Start it (pg_ctlcluster <version> main start), or run without PostgreSQL "
            f"with {_CHOICE_VAR}=sqlite",
            pytrace=False,
        )


@pytest.fixture
def pg_url(pg_reason: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    require_postgresql(pg_reason)
    from sqlalchemy import create_engine, text

    name = f"impact_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ---- Database faults, the same on both backends ---------------------------------------------


@contextmanager
def database_locked(database: Database) -> Iterator[None]:
    """Another client holds the write lock on every table until the block ends.

    SQLite: an exclusive transaction on the file. PostgreSQL: EXCLUSIVE locks on every table
    (reads go on, writes wait until the statement timeout), the nearest match.
    """
    if database.engine.dialect.name == "sqlite":
        path = database.engine.url.database
        assert path and os.path.exists(path), f"no SQLite file at {path!r}"
        locker = sqlite3.connect(path, timeout=0)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.rollback()
            locker.close()
        return
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(database.url)
    try:
        with engine.connect() as conn:
            tables = ", ".join(f'"{name}"' for name in inspect(conn).get_table_names())
            conn.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                conn.rollback()
    finally:
        engine.dispose()


def drop_tables(database: Database, *tables: str) -> None:
    """Break the schema under a running app: its queries on these tables fail from now on."""
    from sqlalchemy import text

    cascade = " CASCADE" if database.engine.dialect.name == "postgresql" else ""
    with database.engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"DROP TABLE {table}{cascade}"))


def acked_message(raw_body: str) -> dict[str, Any]:
    """The message an ack carried back to Slack: a quick log's confirmation (or its apology,
    or its limit message) when it was ready in time (bot.deadlines). Fails on an empty ack,
    whose answer went through response_url instead."""
    assert raw_body, "the ack was empty: the answer went through response_url"
    message: dict[str, Any] = json.loads(raw_body)
    return message


def make_settings(standin: SlackStandin, database_url: str, **overrides: Any) -> Settings:
    base = Settings(
        bot_token="xoxb-test",
        signing_secret=SECRET,
        api_url=standin.base_url,
        database_url=database_url,
        managers=frozenset({"UBOSS"}),
    )
    return replace(base, **overrides)


@dataclass
class RunningApp:
    """The real Bolt app behind waitress on an ephemeral port."""

    url: str
    settings: Settings
    db: Database
    services: Services
    standin: SlackStandin

    def post(self, body: str, timestamp: int | None = None, secret: str = SECRET) -> tuple[int, str]:
        """POST a body to /slack/events, signed as Slack signs it."""
        return post_signed(self.url + "/slack/events", secret, body, timestamp=timestamp)


@pytest.fixture
def make_app(standin: SlackStandin) -> Iterator[Any]:
    """Start the real app over HTTP; call with a Database and settings overrides."""
    servers: list[tuple[Any, threading.Thread]] = []
    stopping = threading.Event()

    def start(db: Database, **overrides: Any) -> RunningApp:
        from waitress.server import create_server

        settings = make_settings(standin, db.url, **overrides)
        services = build_services(settings, db)
        app = create_app(services)
        server = create_server(wsgi_app(app, db), host="127.0.0.1", port=0, threads=4)

        def serve() -> None:
            try:
                server.run()
            except OSError:
                if not stopping.is_set():
                    raise  # after close(), select() on the closed socket fails: that is the stop

        thread = threading.Thread(target=serve, daemon=True)
        servers.append((server, thread))
        thread.start()
        port = server.socket.getsockname()[1]
        return RunningApp(f"http://127.0.0.1:{port}", settings, db, services, standin)

    yield start
    stopping.set()
    for server, thread in servers:
        server.task_dispatcher.shutdown(timeout=2)  # its worker threads, else they outlive the test
        server.close()
        thread.join(timeout=2)


@pytest.fixture
def running(make_app: Any, db: Database) -> RunningApp:
    """The app on this test's database (runs as [sqlite] and [postgresql])."""
    app: RunningApp = make_app(db)
    return app
