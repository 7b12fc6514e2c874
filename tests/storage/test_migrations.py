"""Alembic is the only owner of the schema: the migrations build exactly what the models say.

Every test runs on a SQLite file and on the local PostgreSQL (skipped, with the reason, when
PostgreSQL does not answer).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Column, MetaData, String, bindparam, inspect, select, text
from sqlalchemy.schema import DefaultClause

from storage import queries
from storage.db import ALEMBIC_INI, Database, alembic_config, current_revision, head_revision
from storage.models import Base, StoryRow, UTCDateTime

REPO = Path(__file__).resolve().parents[2]
COMPARE_OPTS = {"compare_type": True, "compare_server_default": True}
OAUTH_TABLES = {"slack_installations", "slack_bots", "slack_oauth_states"}


@pytest.fixture
def empty_db(db_url: str) -> Iterator[Database]:
    """A database with no schema at all, on SQLite and on PostgreSQL."""
    database = Database(db_url)
    yield database
    database.dispose()


def upgrade(db: Database, revision: str = "head") -> None:
    command.upgrade(alembic_config(db.engine), revision)


def downgrade(db: Database, revision: str) -> None:
    command.downgrade(alembic_config(db.engine), revision)


def schema_diffs(db: Database, metadata: MetaData, **opts: Any) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={**COMPARE_OPTS, **opts})
        return list(compare_metadata(context, metadata))


def test_migrations_at_head_match_the_models_exactly(empty_db: Database) -> None:
    empty_db.migrate()
    diffs = schema_diffs(empty_db, Base.metadata)
    assert diffs == [], "models and migrations differ:\n" + "\n".join(map(repr, diffs))
    assert current_revision(empty_db.engine) == head_revision()


def test_the_comparison_sees_a_missing_column_and_a_changed_server_default(empty_db: Database) -> None:
    """Guards the test above: it would fail if a model and the migrations drifted apart."""
    empty_db.migrate()
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["stories"].append_column(Column("mood", String(16)))
    drifted.tables["stories"].c.kind.server_default = DefaultClause("idea")
    kinds = {(d[0] if isinstance(d, tuple) else d[0][0]) for d in schema_diffs(empty_db, drifted)}
    assert kinds == {"add_column", "modify_default"}


def _tables_named(names: set[str]) -> Any:
    """An include_name hook for Alembic's comparison that looks only at these tables."""

    def include(name: str | None, kind: str, _parent: Any) -> bool:
        return kind != "table" or name in names

    return include


def test_oauth_tables_are_exactly_what_slack_sdk_builds(empty_db: Database) -> None:
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    empty_db.migrate()
    installations = SQLAlchemyInstallationStore(client_id="111.222", engine=empty_db.engine)
    states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=empty_db.engine)
    covered: set[str] = set()
    for store_metadata in (installations.metadata, states.metadata):
        names = set(store_metadata.tables)
        covered |= names
        diffs = schema_diffs(empty_db, store_metadata, include_name=_tables_named(names))
        assert diffs == [], f"migration 0003 differs from slack_sdk's {sorted(names)}:\n" + "\n".join(
            map(repr, diffs)
        )
    assert covered == OAUTH_TABLES
    assert OAUTH_TABLES <= set(inspect(empty_db.engine).get_table_names())


def test_oauth_stores_work_on_the_migrated_tables(empty_db: Database) -> None:
    from slack_sdk.oauth.installation_store import Installation
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    empty_db.migrate()
    installations = SQLAlchemyInstallationStore(client_id="111.222", engine=empty_db.engine)
    installations.save(
        Installation(
            app_id="A1", team_id="T1", user_id="U1", bot_token="xoxb-1", bot_id="B1", bot_user_id="UB"
        )
    )
    bot = installations.find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-1"
    states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=empty_db.engine)
    assert states.consume(states.issue()) is True


STORIES = [
    {
        "customer": "Acme Corp",
        "quote": "They closed the quarter a week early — thanks! <!channel> & co",
        "contact": "CFO",
        "impact": "Books closed in 2 days",
        "kind": "praise",
        "tags": ["finance", "export"],
        "credited": ["U0222", "U0333"],
        "consent": "public",
        "source": "https://example.slack.com/archives/C1/p1700000000000200",
        "author": "U1",
        "channel": "C1",
        "deleted": False,
    },
    {
        "customer": "Beta GmbH",
        "quote": "Der Export hat uns einen Tag gespart",
        "contact": "",
        "impact": "",
        "kind": "complaint",
        "tags": [],
        "credited": [],
        "consent": "anonymous",
        "source": "",
        "author": "U2",
        "channel": "",
        "deleted": False,
    },
    {
        "customer": "Gamma BV",
        "quote": "Referred us to their sister company",
        "contact": "Head of Ops",
        "impact": "",
        "kind": "referral",
        "tags": ["sales"],
        "credited": ["U0444"],
        "consent": "internal",
        "source": "",
        "author": "U3",
        "channel": "C2",
        "deleted": True,
    },
]


def _insert_at_0001(db: Database) -> list[dict[str, Any]]:
    """Stories written with plain SQL into the schema of the first revision."""
    base = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    rows = []
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workspaces (team_id, enterprise_id, language, improvement_channel, created_at)"
                " VALUES ('T111', 'E1', 'de', 'CIMPROVE', :at)"
            ).bindparams(bindparam("at", type_=UTCDateTime())),
            {"at": base},
        )
        ws = conn.execute(text("SELECT id FROM workspaces WHERE team_id = 'T111'")).scalar_one()
        insert = text(
            "INSERT INTO stories (workspace_id, customer, quote, contact, impact, kind, tags, credited,"
            " consent, source, author, channel, created_at, updated_at, deleted_at) VALUES (:ws,"
            " :customer, :quote, :contact, :impact, :kind, :tags, :credited, :consent, :source, :author,"
            " :channel, :created_at, :updated_at, :deleted_at)"
        ).bindparams(
            bindparam("tags", type_=JSON()),
            bindparam("credited", type_=JSON()),
            bindparam("created_at", type_=UTCDateTime()),
            bindparam("updated_at", type_=UTCDateTime()),
            bindparam("deleted_at", type_=UTCDateTime()),
        )
        for n, story in enumerate(STORIES):
            row = {k: v for k, v in story.items() if k != "deleted"}
            row["created_at"] = base + timedelta(days=n)
            row["updated_at"] = base + timedelta(days=n, hours=1)
            row["deleted_at"] = base + timedelta(days=n, hours=2) if story["deleted"] else None
            conn.execute(insert, {"ws": ws, **row})
            rows.append({"workspace_id": ws, **row})
        # A story that relies on the server defaults of 0001.
        conn.execute(
            text(
                "INSERT INTO stories (workspace_id, customer, quote, tags, credited, author, created_at,"
                " updated_at) VALUES (:ws, 'Delta', 'Plain words', :tags, :credited, 'U4', :at, :at)"
            ).bindparams(
                bindparam("tags", type_=JSON()),
                bindparam("credited", type_=JSON()),
                bindparam("at", type_=UTCDateTime()),
            ),
            {"ws": ws, "tags": [], "credited": [], "at": base},
        )
    defaults = {
        "contact": "",
        "impact": "",
        "kind": "praise",
        "consent": "internal",
        "source": "",
        "channel": "",
    }
    rows.append(
        {
            "workspace_id": ws,
            "customer": "Delta",
            "quote": "Plain words",
            "tags": [],
            "credited": [],
            "author": "U4",
            "created_at": base,
            "updated_at": base,
            "deleted_at": None,
            **defaults,
        }
    )
    return rows


def test_stories_written_at_the_first_revision_survive_the_upgrade_to_head(empty_db: Database) -> None:
    upgrade(empty_db, "0001")
    written = _insert_at_0001(empty_db)
    upgrade(empty_db)
    assert current_revision(empty_db.engine) == head_revision()

    columns = [c for c in StoryRow.__table__.c if c.name != "id"]
    with empty_db.engine.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(select(*columns).order_by(StoryRow.id))]
        workspace = conn.execute(
            text("SELECT team_id, enterprise_id, language, improvement_channel FROM workspaces")
        ).one()
    assert stored == written
    assert tuple(workspace) == ("T111", "E1", "de", "CIMPROVE")
    # And the app reads them as before: the live ones, every field intact.
    with empty_db.session() as session:
        live = queries.live_stories(session, queries.workspace_id(session, "T111", "E1"))
    assert sorted(s.customer for s in live) == ["Acme Corp", "Beta GmbH", "Delta"]
    acme = next(s for s in live if s.customer == "Acme Corp")
    assert acme.quote == STORIES[0]["quote"]
    assert (acme.contact, acme.impact, acme.kind, acme.consent) == (
        "CFO",
        "Books closed in 2 days",
        "praise",
        "public",
    )
    assert tuple(acme.tags) == ("finance", "export") and tuple(acme.credited) == ("U0222", "U0333")
    assert acme.source == STORIES[0]["source"] and (acme.author, acme.channel) == ("U1", "C1")


def test_downgrade_to_the_start_and_up_again(empty_db: Database) -> None:
    empty_db.migrate()
    downgrade(empty_db, "0002")
    assert not OAUTH_TABLES & set(inspect(empty_db.engine).get_table_names())
    downgrade(empty_db, "base")
    assert set(inspect(empty_db.engine).get_table_names()) <= {"alembic_version"}
    empty_db.migrate()
    assert schema_diffs(empty_db, Base.metadata) == []


def test_oauth_tables_made_by_the_old_create_all_are_kept(empty_db: Database) -> None:
    """Before 0003 the bot created these tables itself in OAuth mode: they and their rows stay."""
    from slack_sdk.oauth.installation_store import Installation
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    upgrade(empty_db, "0002")
    installations = SQLAlchemyInstallationStore(client_id="111.222", engine=empty_db.engine)
    states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=empty_db.engine)
    installations.metadata.create_all(empty_db.engine)
    states.metadata.create_all(empty_db.engine)
    installations.save(Installation(app_id="A1", team_id="T1", user_id="U1", bot_token="xoxb-old"))
    empty_db.migrate()
    assert current_revision(empty_db.engine) == head_revision()
    bot = installations.find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-old"
    assert schema_diffs(empty_db, Base.metadata) == []


def test_processes_starting_together_on_postgresql_migrate_once(pg_url: str) -> None:
    """Several bot processes start at once: the advisory lock lets one migrate, the rest wait."""
    code = "import sys; from storage.db import Database; Database(sys.argv[1]).migrate()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, pg_url], cwd=REPO, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    failures = [err for p in procs if (err := p.communicate(timeout=120)[1]) and p.returncode != 0]
    assert failures == []
    db = Database(pg_url)
    try:
        assert current_revision(db.engine) == head_revision()
    finally:
        db.dispose()


def _alembic_cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_alembic_command_from_the_repository_root(db_url: str) -> None:
    done = _alembic_cli(REPO, {"DATABASE_URL": db_url}, "-c", "storage/alembic.ini", "upgrade", "head")
    assert done.returncode == 0, done.stderr
    current = _alembic_cli(REPO, {"DATABASE_URL": db_url}, "-c", "storage/alembic.ini", "current")
    assert f"{head_revision()} (head)" in current.stdout, current.stderr
    check = _alembic_cli(REPO, {"DATABASE_URL": db_url}, "-c", "storage/alembic.ini", "check")
    assert check.returncode == 0 and "No new upgrade operations detected" in check.stdout + check.stderr


def test_alembic_command_reads_database_url_from_dotenv(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'from-dotenv.db'}"
    (tmp_path / ".env").write_text(f"DATABASE_URL={url}\n")
    done = _alembic_cli(tmp_path, {}, "-c", str(ALEMBIC_INI), "upgrade", "head")
    assert done.returncode == 0, done.stderr
    db = Database(url)
    try:
        assert current_revision(db.engine) == head_revision()
    finally:
        db.dispose()
