"""Shared fixtures: the Slack stand-in, real databases, and the real app served over HTTP."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
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


@pytest.fixture
def db(request: Any) -> Iterator[Database]:
    """The test's database: a SQLite file, or a fresh PostgreSQL database with
    IMPACT_TEST_DATABASE=postgresql (opt-in; the SQLite-specific fault tests expect SQLite)."""
    backend = os.environ.get("IMPACT_TEST_DATABASE", "sqlite")
    url = request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()


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


@pytest.fixture
def pg_url(pg_reason: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if pg_reason:
        pytest.skip(pg_reason)
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


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: Any) -> Iterator[Database]:
    """The same test on a SQLite file and on the local PostgreSQL."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()


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
    servers: list[Any] = []

    def start(db: Database, **overrides: Any) -> RunningApp:
        from waitress.server import create_server

        settings = make_settings(standin, db.url, **overrides)
        services = build_services(settings, db)
        app = create_app(services)
        server = create_server(wsgi_app(app, db), host="127.0.0.1", port=0, threads=4)
        servers.append(server)
        threading.Thread(target=server.run, daemon=True).start()
        port = server.socket.getsockname()[1]
        return RunningApp(f"http://127.0.0.1:{port}", settings, db, services, standin)

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def running(make_app: Any, db: Database) -> RunningApp:
    """The app on a SQLite file."""
    app: RunningApp = make_app(db)
    return app
