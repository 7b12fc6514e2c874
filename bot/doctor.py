"""`impact-bot doctor`: each problem with its fix."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.app import make_client
from bot.manifest import bot_scopes
from bot.settings import Settings
from storage.db import Database, current_revision, head_revision


def diagnose(settings: Settings) -> list[str]:
    """Problems found in tokens, scopes and the database; empty when all is well."""
    problems: list[str] = []
    if settings.bot_token:
        problems += _check_slack(settings)
    db = Database(settings.database_url)
    try:
        if not db.ping():
            problems.append("the database does not answer: check DATABASE_URL and that the server is running")
        else:
            current, head = current_revision(db.engine), head_revision(db.engine)
            if current != head:
                problems.append(
                    f"the database schema is at {current or 'nothing'}, not {head}: run `impact-bot migrate`"
                )
            else:
                problems += _check_schedules(db)
    finally:
        db.dispose()
    return problems


def _check_slack(settings: Settings) -> list[str]:
    client = make_client(settings)
    try:
        response = client.auth_test()
    except SlackApiError as e:
        error = e.response.get("error")
        return [
            f"auth.test failed ({error}): SLACK_BOT_TOKEN is wrong or revoked; copy the Bot User "
            "OAuth Token again from OAuth & Permissions"
        ]
    except Exception as e:
        return [f"cannot reach Slack at {settings.api_url} ({e}): check the network or SLACK_API_URL"]
    header = {k.lower(): v for k, v in (response.headers or {}).items()}.get("x-oauth-scopes")
    if header is None:
        return []
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    wanted = set(bot_scopes())
    problems = []
    missing = sorted(wanted - granted)
    extra = sorted(granted - wanted)
    if missing:
        problems.append(
            f"the bot token lacks the scopes {', '.join(missing)}: update the app from manifest.json "
            "and reinstall it to the workspace"
        )
    if extra:
        problems.append(
            f"the bot token has scopes it does not need ({', '.join(extra)}): update the app from "
            "manifest.json and reinstall it"
        )
    return problems


def _check_schedules(db: Database) -> list[str]:
    """Schedules that cannot run, and channels where Slack refused the last post."""
    from storage import schedules as sq

    problems = []
    with db.session() as session:
        for schedule in sq.list_schedules(session):
            try:
                schedule.spec.trigger()
            except Exception as e:
                problems.append(
                    f"the {schedule.spec.kind} schedule of channel {schedule.channel_id} cannot run "
                    f"({e}): set it again with `/impact schedule` in that channel"
                )
        for channel, error in sq.channel_errors(session):
            problems.append(
                f"Slack refused the last post in channel {channel} ({error}): invite the bot there "
                "with `/invite @Impact`, or remove the schedule with `/impact schedule off`"
            )
    return problems
