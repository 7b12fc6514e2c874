"""`impact-bot`: run, migrate, doctor, import, export, post-story, purge."""

from __future__ import annotations

import argparse
import io
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings, SettingsError, load_settings
from bot.startup import StartupError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from storage.db import Database

log = logging.getLogger("impact")


TEAM_HELP = "a team ID (T...), an Enterprise Grid ID (E...), or E.../T... for one workspace of a grid"


class CommandError(Exception):
    """A one-line reason for a non-zero exit."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="impact-bot", description="Impact: customers' own words in Slack.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="start the bot (Socket Mode with SLACK_APP_TOKEN, else HTTP)")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser(
        "doctor",
        help="check settings, tokens, scopes, database and schedules; in OAuth mode also the "
        "client id and secret, the redirect URL and each installation",
    )
    imp = sub.add_parser("import", help="import stories from a CSV file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--team", help=f"the workspace the stories belong to: {TEAM_HELP}")
    exp = sub.add_parser("export", help="write all stories to stdout")
    exp.add_argument("--format", choices=("json", "csv"), default="json")
    exp.add_argument("--team", help=f"needed when the bot serves several workspaces: {TEAM_HELP}")
    post = sub.add_parser("post-story", help="post a customer story now")
    post.add_argument("--channel", required=True)
    post.add_argument("--team", help=f"needed when the bot serves several workspaces: {TEAM_HELP}")
    purge = sub.add_parser(
        "purge",
        help="erase a customer's stories and redact the bot's Slack messages that named them",
    )
    purge.add_argument("--customer", required=True, help="the customer's name: exact, in any case")
    purge.add_argument("--team", help=f"needed when the bot serves several workspaces: {TEAM_HELP}")
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
    from bot.logs import configure

    configure(settings.log_level, settings.log_format)
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
    except (CommandError, StartupError) as e:
        print(f"impact-bot: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def open_database(settings: Settings, migrate: bool = True) -> Database:
    """The database, migrated; a failure is one line naming DATABASE_URL and the fix."""
    from bot.startup import open_database as open_checked

    return open_checked(settings, migrate=migrate)


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
    """Print each finding (in OAuth mode each installation too); exit 1 when any is a problem."""
    from bot.doctor import examine

    findings = examine(settings)
    for finding in findings:
        print(finding.render())
    problems = sum(finding.problem for finding in findings)
    if problems:
        counted = f"{problems} problems: fix them" if problems != 1 else "1 problem: fix it"
        print(f"{counted}, then run `impact-bot doctor` again")
        return 1
    print("✓ all checks passed")
    return 0


def _workspace(session: Session, team: str | None, create: bool = False) -> int:
    """The workspace `--team` names (a team ID, an enterprise ID or E.../T...), or the only one."""
    from storage import queries

    if team:
        found = queries.find_workspaces(session, team)
        if len(found) == 1:
            return found[0].id
        if len(found) > 1:
            labels = ", ".join(w.label for w in found)
            raise CommandError(
                f"--team {team} matches {len(found)} workspaces ({labels}): pass one of them as --team"
            )
        if create:
            return queries.workspace_for_key(session, team)
        raise CommandError(f"--team: no workspace {team} is known to this database")
    known = queries.workspaces(session)
    if len(known) == 1:
        return known[0].id
    if not known:
        raise CommandError("no workspace yet: pass --team T012AB3CD (your Slack team ID)")
    labels = ", ".join(w.label for w in known)
    raise CommandError(f"this database serves {len(known)} workspaces ({labels}): pass one of them as --team")


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.transfer import read_csv
    from storage import queries

    try:
        # newline="": a line break inside a quoted cell is the csv module's to read, unchanged.
        with open(args.file, encoding="utf-8-sig", newline="") as f:
            text = f.read()
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
            queries.add_story(
                session,
                ws,
                row.draft,
                author=row.author,
                channel=row.channel,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            imported += 1
    for r in rejected:
        print(f"line {r.line}: rejected: {r.reason}", file=sys.stderr)
    print(f"imported {imported}, already present {skipped}, rejected {len(rejected)}")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Every live story of the workspace, every field: the command line is for operators, so
    anonymous customers are named here (and CSV cells never start a spreadsheet formula)."""
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
    if args.format == "csv" and isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(newline="")  # the CSV's own CR LF, never translated again
    sys.stdout.write(export_csv(stories) if args.format == "csv" else export_json(stories))
    return 0


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    """Erase the customer's stories, redact the bot's Slack messages that carried them, and
    report; exit 0 once the stories are erased, even when some messages could not be reached."""
    from slack_sdk import WebClient

    from bot.purge import purge_customer
    from bot.services import build_services
    from storage import queries

    customer = args.customer.strip()
    if not customer:
        raise CommandError("--customer: give the customer's name as stored (any case)")
    db = open_database(settings)
    with db.session() as session:
        ws = _workspace(session, args.team)
        key = queries.workspace_key(session, ws)

    def client() -> WebClient | None:
        # Built only when a message is owed a redaction: a purge with nothing in Slack needs no token.
        services = build_services(settings, db, with_scheduler=False)
        if not services.clients.token_for(key.team_id, key.enterprise_id):
            return None
        return services.clients.for_team(key.team_id, key.enterprise_id)

    report = purge_customer(db, ws, customer, client, settings.language, key.label)
    print("\n".join(report.lines()))
    return 0


def cmd_post_story(settings: Settings, args: argparse.Namespace) -> int:
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.posting import ChannelProblem
    from bot.services import build_services
    from storage import queries

    db = open_database(settings)
    with db.session() as session:
        ws = _workspace(session, args.team, create=bool(args.team))
        key = queries.workspace_key(session, ws)
    services = build_services(settings, db, with_scheduler=False)
    if not services.clients.token_for(key.team_id, key.enterprise_id):
        raise CommandError(
            f"workspace {key.label} has not installed the app (or uninstalled it): install it "
            "through /slack/install, then post again"
        )
    team = key.team_id
    poster = services.poster
    channel = args.channel.lstrip("#")
    try:
        outcome = poster.post_story_now(team, ws, channel, enterprise_id=key.enterprise_id)
    except ChannelProblem as e:
        raise CommandError(
            f"Slack refused to post in {channel} ({e.error}): invite the bot with /invite @Impact"
        ) from None
    except SlackApiError as e:
        raise CommandError(f"Slack answered {e.response.get('error')} for {channel}") from None
    except (OSError, SlackClientError) as e:
        reason = str(getattr(e, "reason", None) or e).splitlines()[0]
        raise CommandError(
            f"SLACK_API_URL: cannot reach Slack at {settings.api_url} ({reason}): check the network, "
            "the proxy (HTTPS_PROXY) and SLACK_API_URL"
        ) from None
    # Poster answers an Outcome (status, permalink); before that it answered the permalink.
    status = str(getattr(outcome, "status", "posted"))
    permalink = str(getattr(outcome, "permalink", outcome) or "") or "(no permalink)"
    if status == "uncertain":
        raise CommandError(
            f"Slack's answer was lost and it cannot tell whether the story reached {channel}: "
            "look there before running post-story again"
        )
    print(f"posted in {channel}: {permalink}")
    return 0
