"""`impact-bot doctor`: each problem with its fix.

Single-workspace mode checks the bot token, its scopes, the database and the schedules. OAuth
mode checks the client id and secret with Slack, the redirect URL, and lists each installation
with its scopes, whether its token still works and the channels where its posts failed
(bot.doctor_oauth). Secrets (the client secret, tokens) never appear in what it prints.
"""

from __future__ import annotations

from bot.doctor_oauth import Finding, check_credentials, check_oauth, check_scopes_setting
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

__all__ = ["Finding", "diagnose", "examine"]


def diagnose(settings: Settings) -> list[str]:
    """Problems found in tokens, scopes and the database; empty when all is well."""
    return [f.text for f in examine(settings) if f.problem]


def examine(settings: Settings) -> list[Finding]:
    """Every finding, in the order printed: problems, and in OAuth mode what was checked."""
    findings: list[Finding] = []
    if settings.bot_token:
        findings += _problems(_check_slack(settings))
    if settings.app_token:
        try:
            socket_mode_url(settings)
        except StartupError as e:
            findings.append(Finding(str(e)))
    reachable = True
    if settings.oauth_mode:
        credentials, reachable = check_credentials(settings)
        findings += credentials
        findings += check_scopes_setting(settings)
    try:
        db = open_database(settings, migrate=False)
    except StartupError as e:
        return [*findings, Finding(str(e))]
    try:
        current, head = current_revision(db.engine), head_revision(db.engine)
        if current != head:
            findings.append(
                Finding(
                    f"the database schema is at {current or 'nothing'}, not {head}: run `impact-bot migrate`"
                )
            )
        else:
            # In OAuth mode refused channels are listed under their installation instead.
            findings += _problems(_check_schedules(db, channel_errors=not settings.oauth_mode))
            if settings.oauth_mode:
                findings += check_oauth(settings, db, reachable)
    finally:
        db.dispose()
    return findings


def _problems(texts: list[str]) -> list[Finding]:
    return [Finding(text) for text in texts]


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


def _check_schedules(db: Database, channel_errors: bool = True) -> list[str]:
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
        for channel, error in channels.channel_errors(session) if channel_errors else []:
            problems.append(
                f"Slack refused the last post in channel {channel} ({error}): invite the bot there "
                "with `/invite @Impact`, or remove the schedule with `/impact schedule off`"
            )
    return problems
