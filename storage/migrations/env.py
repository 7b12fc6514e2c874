"""Alembic environment: migrates the engine storage.db hands over, else the configured DATABASE_URL.

`impact-bot migrate` and the bot's start hand over an engine. `alembic -c storage/alembic.ini ...`
does not: then the URL comes from the project's settings loader, so `.env` works as for the bot.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, Engine, text

from storage.db import make_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata
# Any number, the same in every process: concurrent starts on PostgreSQL migrate one at a time.
PG_MIGRATION_LOCK = 0x1A4AC7


def _configured_url() -> str:
    # Imported here, not at the top: migrations are an Alembic script run by the bot or by the
    # alembic command, not part of the storage package's import graph (storage knows nothing of bot/).
    from bot.settings import load_settings

    return load_settings(need_slack=False).database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: Alembic copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # Types and server defaults count too, so the models and the migrations cannot drift.
        compare_type=True,
        compare_server_default=True,
    )


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    own_engine = engine is None
    if engine is None:
        if config.config_file_name is not None:
            fileConfig(config.config_file_name, disable_existing_loggers=False)
        engine = make_engine(_configured_url(), deadlines=False)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # Held until this transaction ends; the second process then finds the schema at head.
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
                context.run_migrations()
    finally:
        if own_engine:
            engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
run_migrations_online()
