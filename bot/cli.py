"""`impact-bot`: run, migrate, doctor, import, export, post-story, purge."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("impact")


class CommandError(Exception):
    """A one-line reason for a non-zero exit."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="impact-bot", description="Impact: customers' own words in Slack.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="start the bot (Socket Mode with SLACK_APP_TOKEN, else HTTP)")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("doctor", help="check settings, tokens, scopes, database and schedules")
    imp = sub.add_parser("import", help="import stories from a CSV file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--team", help="Slack team ID the stories belong to")
    exp = sub.add_parser("export", help="write all stories to stdout")
    exp.add_argument("--format", choices=("json", "csv"), default="json")
    exp.add_argument("--team", help="Slack team ID (needed when the bot serves several)")
    post = sub.add_parser("post-story", help="post a customer story now")
    post.add_argument("--channel", required=True)
    post.add_argument("--team", help="Slack team ID (needed when the bot serves several)")
    purge = sub.add_parser("purge", help="erase a customer's stories (data-protection requests)")
    purge.add_argument("--customer", required=True)
    purge.add_argument("--team", help="Slack team ID (needed when the bot serves several)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = parser().parse_args(argv)
    command = args.command or "run"
    need_slack = command in ("run", "doctor", "post-story")
    try:
        settings = load_settings(need_slack=need_slack)
    except SettingsError as e:
        print(f"impact-bot: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic and APScheduler narrate every step at INFO (a line per job run every sweep); an
    # operator running the bot for years wants their warnings, and our own INFO lines.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    handlers: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
        "run": cmd_run,
        "migrate": cmd_migrate,
        "doctor": cmd_doctor,
        "import": cmd_import,
        "export": cmd_export,
        "post-story": cmd_post_story,
        "purge": cmd_purge,
    }
    try:
        return handlers[command](settings, args)
    except CommandError as e:
        print(f"impact-bot: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def open_database(settings: Settings, migrate: bool = True):  # type: ignore[no-untyped-def]
    """The database, migrated; a failure becomes one line naming DATABASE_URL."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import Database

    try:
        db = Database(settings.database_url)
        if migrate:
            db.migrate()
        return db
    except (SQLAlchemyError, OSError) as e:
        reason = str(getattr(e, "orig", None) or e).splitlines()[0]
        raise CommandError(
            f"DATABASE_URL: cannot open {_safe_url(settings.database_url)}: {reason}"
        ) from None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    open_database(settings).dispose()
    print("database schema is up to date")
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import run

    db = open_database(settings)
    run(settings, db)
    return 0


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.doctor import diagnose

    problems = diagnose(settings)
    for problem in problems:
        print(f"✗ {problem}")
    if problems:
        return 1
    print("✓ all checks passed")
    return 0


def _workspace(session, team: str | None, create: bool = False) -> int:  # type: ignore[no-untyped-def]
    from storage import queries

    if team:
        found = queries.find_workspace(session, team)
        if found is not None:
            return found
        if create:
            return queries.workspace_id(session, team)
        raise CommandError(f"--team: no workspace {team} is known to this database")
    known = queries.workspaces(session)
    if len(known) == 1:
        return known[0][0]
    if not known:
        raise CommandError("no workspace yet: pass --team T012AB3CD (your Slack team ID)")
    teams = ", ".join(team for _, team in known)
    raise CommandError(f"this database serves several workspaces ({teams}): pass --team")


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.transfer import read_csv
    from storage import queries

    try:
        text = args.file.read_text(encoding="utf-8-sig")
        accepted, rejected = read_csv(text)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CommandError(f"{args.file}: {e}") from None
    db = open_database(settings)
    imported = skipped = 0
    with db.session() as session:
        ws = _workspace(session, args.team, create=True)
        for row in accepted:
            if queries.has_story(session, ws, row.draft.customer, row.draft.quote):
                skipped += 1
                continue
            queries.add_story(session, ws, row.draft, author=row.author, created_at=row.created_at)
            imported += 1
    for r in rejected:
        print(f"line {r.line}: rejected: {r.reason}", file=sys.stderr)
    print(f"imported {imported}, already present {skipped}, rejected {len(rejected)}")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.transfer import export_csv, export_json
    from storage import queries

    db = open_database(settings)
    with db.session() as session:
        known = queries.workspaces(session)
        stories = (
            []
            if not known and not args.team
            else queries.live_stories(session, _workspace(session, args.team))
        )
    sys.stdout.write(export_csv(stories) if args.format == "csv" else export_json(stories))
    return 0


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    from storage import queries

    db = open_database(settings)
    with db.session() as session:
        count = queries.purge_customer(session, _workspace(session, args.team), args.customer)
    print(f"erased {count} stories of {args.customer}")
    return 0


def cmd_post_story(settings: Settings, args: argparse.Namespace) -> int:
    from slack_sdk.errors import SlackApiError

    from bot.app import make_client
    from bot.managers import ManagerDirectory
    from bot.posting import ChannelProblem, Poster
    from storage import queries

    db = open_database(settings)
    with db.session() as session:
        ws = _workspace(session, args.team, create=bool(args.team))
        team = queries.team_of(session, ws)
    client = make_client(settings)
    poster = Poster(
        settings, db, ManagerDirectory(settings.managers, settings.manager_group), lambda _: client
    )
    channel = args.channel.lstrip("#")
    try:
        permalink = poster.post_story_now(team, ws, channel)
    except ChannelProblem as e:
        raise CommandError(
            f"Slack refused to post in {channel} ({e.error}): invite the bot with /invite @Impact"
        ) from None
    except SlackApiError as e:
        raise CommandError(f"Slack answered {e.response.get('error')} for {channel}") from None
    print(f"posted in {channel}: {permalink or '(no permalink)'}")
    return 0
