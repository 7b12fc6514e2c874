"""`impact-bot doctor`: each problem with its fix."""

from __future__ import annotations

from bot.manifest import bot_scopes
from bot.schedule import trigger
from bot.settings import Settings
from bot.startup import (
    REJECTED_TOKEN,
    StartupError,
    call_slack,
    check_client,
    open_database,
    socket_mode_url,
)
from storage.db import Database, current_revision, head_revision


def diagnose(settings: Settings) -> list[str]:
    """Problems found in tokens, scopes and the database; empty when all is well."""
    problems: list[str] = []
    if settings.bot_token:
        problems += _check_slack(settings)
    if settings.app_token:
        try:
            socket_mode_url(settings)
        except StartupError as e:
            problems.append(str(e))
    try:
        db = open_database(settings, migrate=False)
    except StartupError as e:
        return [*problems, str(e)]
    try:
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
    client = check_client(settings, settings.bot_token)
    try:
        response = call_slack(
            lambda: client.auth_test(), settings, "auth.test", "SLACK_BOT_TOKEN", REJECTED_TOKEN
        )
    except StartupError as e:
        return [f"auth.test failed: {e}"]
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
    from storage import channels

    problems = []
    with db.session() as session:
        for schedule in channels.list_schedules(session):
            try:
                trigger(schedule.spec)
            except Exception as e:
                problems.append(
                    f"the {schedule.spec.kind} schedule of channel {schedule.channel_id} cannot run "
                    f"({e}): set it again with `/impact schedule` in that channel"
                )
        for channel, error in channels.channel_errors(session):
            problems.append(
                f"Slack refused the last post in channel {channel} ({error}): invite the bot there "
                "with `/invite @Impact`, or remove the schedule with `/impact schedule off`"
            )
    return problems
