"""`impact-bot doctor` in OAuth mode: the client id and secret, the redirect URL, each installation.

Secrets (the client secret, tokens) never appear in a finding.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError

from bot.manifest import bot_scopes
from bot.settings import Settings
from bot.startup import StartupError, call_slack, check_client, quiet
from storage.db import Database

if TYPE_CHECKING:
    from slack_bolt.oauth.oauth_settings import OAuthSettings

    from bot.clients import Clients
    from storage.operations import FailedChannel, InstalledBot

# oauth.v2.access with this code: Slack checks the client id and secret before the code, so
# `invalid_code` means both are right, and no installation is made.
TEST_CODE = "impact-doctor-not-a-code"
# Failed slots this recent, and not followed by a successful post, are reported.
RECENT_FAILURES = timedelta(days=7)
# auth.test answers that mean the installation's token no longer works.
REVOKED = ("token_revoked", "invalid_auth", "account_inactive", "team_access_revoked", "not_authed")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
TOKEN_CHECKS_AT_ONCE = 8

Status = Literal["ok", "info", "problem"]


@dataclass(frozen=True)
class Finding:
    """One line of the report: a check passed, a fact, or a problem with its fix."""

    text: str
    status: Status = "problem"
    depth: int = 0

    @property
    def problem(self) -> bool:
        return self.status == "problem"

    def render(self) -> str:
        mark = {"ok": "✓ ", "problem": "✗ ", "info": ""}[self.status]
        return "  " * self.depth + mark + self.text


# ---- OAuth mode: client id and secret ------------------------------------------------------


def check_credentials(settings: Settings) -> tuple[list[Finding], bool]:
    """Ask Slack about the client id and secret; the findings, and whether Slack answered."""
    client = check_client(settings, None)
    client_id, secret = settings.client_id or "", settings.client_secret or ""

    def exchange() -> str:
        try:
            client.oauth_v2_access(client_id=client_id, client_secret=secret, code=TEST_CODE)
        except SlackApiError as e:
            if e.response.status_code == 200:
                return str(e.response.get("error") or "an error without a code")
            raise  # 429 and 5xx: call_slack says Slack is busy
        return ""  # the test code was accepted: only the credentials can have been checked

    try:
        error = call_slack(exchange, settings, "oauth.v2.access", "SLACK_CLIENT_ID", {})
    except StartupError as e:
        return [Finding(str(e))], False
    if error in ("invalid_code", ""):
        answer = f"answered {error}" if error else "accepted"
        return [
            Finding(
                f"SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: Slack accepts them (oauth.v2.access "
                f"{answer} to a test code, client id {client_id})",
                "ok",
            )
        ], True
    if error == "invalid_client_id":
        text = (
            f"SLACK_CLIENT_ID: Slack knows no app with the client id {client_id} (invalid_client_id): "
            "copy the Client ID again from your app's Basic Information page > App Credentials"
        )
    elif error == "bad_client_secret":
        text = (
            f"SLACK_CLIENT_SECRET: Slack rejected the client secret of client id {client_id} "
            "(bad_client_secret): copy the Client Secret again from your app's Basic Information "
            "page > App Credentials (Show), or regenerate it there and update every process"
        )
    else:
        text = (
            f"SLACK_API_URL: {settings.api_url} answered oauth.v2.access with {error}, so the client "
            "id and secret could not be checked: point SLACK_API_URL at Slack's Web API "
            "(https://slack.com/api/)"
        )
    return [Finding(text)], True


def check_scopes_setting(settings: Settings) -> list[Finding]:
    """SLACK_SCOPES replaces the scopes an install asks for: it must not leave any out."""
    missing = sorted(set(bot_scopes()) - set(settings.scopes)) if settings.scopes else []
    if not missing:
        return []
    return [
        Finding(
            f"SLACK_SCOPES asks new installs for {', '.join(settings.scopes)} only, so they lack "
            f"{', '.join(missing)}: unset SLACK_SCOPES (installs then ask for the manifest's scopes) "
            "or add them"
        )
    ]


# ---- OAuth mode: redirect URL and installations ------------------------------------------------


def check_oauth(settings: Settings, db: Database, reachable: bool) -> list[Finding]:
    """The redirect URL, then each installation (`reachable`: Slack answered the credentials check)."""
    from bot.app import oauth_settings
    from bot.services import build_services

    # The OAuth settings the app itself is built with: the redirect URL and paths it serves.
    services = build_services(settings, db, with_scheduler=False)
    oauth = oauth_settings(services)
    findings, install_url = _check_redirect(oauth)
    findings += _check_installations(settings, db, services.clients, install_url, reachable)
    return findings


def _manifest() -> tuple[Path, dict[str, Any]] | None:
    """manifest.json from the working directory, else the one beside the code; None if neither."""
    for path in (Path.cwd() / "manifest.json", Path(__file__).resolve().parents[1] / "manifest.json"):
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                return path, data
    return None


def _redirect_urls(manifest: dict[str, Any]) -> list[str]:
    config = manifest.get("oauth_config")
    urls = config.get("redirect_urls") if isinstance(config, dict) else None
    return [str(u) for u in urls] if isinstance(urls, list) else []


def _check_redirect(oauth: OAuthSettings) -> tuple[list[Finding], str]:
    """The redirect URL Slack sends installers back to; the findings and the install link."""
    findings: list[Finding] = []
    path, install_path = oauth.redirect_uri_path, oauth.install_path
    found = _manifest()
    listed = _redirect_urls(found[1]) if found else []
    where = f"manifest.json ({found[0]})" if found else "manifest.json"
    if oauth.redirect_uri:
        url, source = oauth.redirect_uri, "SLACK_REDIRECT_URI"
    elif listed:
        url, source = listed[0], f"SLACK_REDIRECT_URI is not set; the first redirect URL of {where}"
    else:
        findings.append(
            Finding(
                f"redirect URL: SLACK_REDIRECT_URI is not set and {where} lists no "
                "oauth_config.redirect_urls, so Slack sends installers back to the Redirect URL on "
                f"your app's OAuth & Permissions page: it must be https://YOUR-HOST{path}",
                "info",
            )
        )
        return findings, install_path
    parts = urlsplit(url)
    host = parts.hostname or ""
    origin = f"{parts.scheme}://{parts.netloc}"
    install_url = f"{origin}{install_path}" if parts.netloc else install_path
    problems = []
    if not (parts.scheme == "https" and host) and not (parts.scheme == "http" and host in LOCAL_HOSTS):
        problems.append(
            f"the redirect URL {url} ({source}) is not an https URL: Slack sends the install code "
            f"only to https (http just for localhost): use https://{parts.netloc or 'YOUR-HOST'}{path}"
        )
    if parts.path != path:
        problems.append(
            f"the redirect URL {url} ({source}) has the path {parts.path or '/'}, but the bot serves "
            f"the OAuth callback at {path}: use {origin if parts.netloc else 'https://YOUR-HOST'}{path}"
        )
    if listed and url not in listed:
        problems.append(
            f"the redirect URL {url} ({source}) is not among the redirect_urls of {where} "
            f"({', '.join(listed)}), so Slack refuses the install (bad_redirect_uri): add it to "
            "oauth_config.redirect_urls and update the app from the manifest, or to OAuth & "
            "Permissions > Redirect URLs"
        )
    findings += [Finding(text) for text in problems]
    if not problems:
        also = f", listed in {where}" if listed else ""
        findings.append(Finding(f"redirect URL {url} ({source}): served by the bot at {path}{also}", "ok"))
    findings.append(Finding(f"install link: {install_url}", "info"))
    return findings, install_url


# ---- OAuth mode: installations ---------------------------------------------------------------


@dataclass(frozen=True)
class _TokenState:
    status: Literal["ok", "revoked", "error", "unreachable"]
    detail: str  # Slack's error code, or the one-line reason Slack could not be asked
    team_name: str = ""


def _token_state(settings: Settings, token: str) -> _TokenState:
    """auth.test with an installation's bot token: does it still work?"""
    client = check_client(settings, token)

    def ask() -> tuple[str, str]:
        try:
            answer = client.auth_test()
        except SlackApiError as e:
            if e.response.status_code == 200:
                return str(e.response.get("error") or "an error without a code"), ""
            raise
        return "", str(answer.get("team") or "")

    try:
        error, team = call_slack(ask, settings, "auth.test", "SLACK_API_URL", {})
    except StartupError as e:
        return _TokenState("unreachable", str(e))
    if not error:
        return _TokenState("ok", "", team)
    return _TokenState("revoked" if error in REVOKED else "error", error)


def _label(bot: InstalledBot, name: str) -> str:
    if bot.is_enterprise_install:
        org = bot.enterprise_name or name or "unnamed org"
        return f"{org} (org-wide install, enterprise {bot.enterprise_id})"
    ids = f"{bot.team_id}, enterprise {bot.enterprise_id}" if bot.enterprise_id else bot.team_id
    return f"{bot.team_name or name or 'unnamed workspace'} ({ids})"


def _check_installations(
    settings: Settings, db: Database, clients: Clients, install_url: str, reachable: bool
) -> list[Finding]:
    from bot.posting import AUTH_ERRORS
    from storage import operations
    from storage.models import utcnow

    with db.session() as session:
        bots = operations.installed_bots(session, settings.client_id or "")
        failed = operations.failed_channels(session, utcnow() - RECENT_FAILURES)
    if not bots:
        return [Finding(f"no workspace has installed the app yet: open {install_url} to install it", "info")]
    states: dict[str, _TokenState] = {}
    if reachable:
        with quiet(logging.getLogger("slack_sdk")), ThreadPoolExecutor(TOKEN_CHECKS_AT_ONCE) as pool:
            tokens = sorted({b.bot_token for b in bots})
            states = dict(zip(tokens, pool.map(lambda t: _token_state(settings, t), tokens), strict=True))
    by_token: dict[str, list[FailedChannel]] = {}
    for channel in failed:
        # The token the scheduler posts with for that workspace: the same lookup, so the same bot.
        token = clients.token_for(channel.team_id, channel.enterprise_id)
        if token:
            by_token.setdefault(token, []).append(channel)
    wanted = bot_scopes()
    count = f"{len(bots)} installation{'s' if len(bots) != 1 else ''}"
    findings = [Finding(f"{count} of client id {settings.client_id}:", "info")]
    unreachable = ""
    for bot in bots:
        state = states.get(bot.bot_token)
        label = _label(bot, state.team_name if state else "")
        when = bot.installed_at.strftime("%Y-%m-%d %H:%M UTC")
        findings.append(Finding(f"{label}, installed {when}", "info", 1))
        missing = [s for s in wanted if s not in bot.bot_scopes]
        extra = [s for s in bot.bot_scopes if s not in wanted]
        if missing:
            findings.append(
                Finding(
                    f"{label}: the installation lacks the scopes {', '.join(missing)}: reinstall the app "
                    f"to grant them (open {install_url} in that workspace)",
                    "problem",
                    2,
                )
            )
        else:
            more = f" (and {', '.join(extra)})" if extra else ""
            findings.append(Finding(f"scopes: all {len(wanted)} the manifest asks for{more}", "ok", 2))
        if state is None or state.status == "unreachable":
            unreachable = unreachable or (state.detail if state else "")
            findings.append(Finding("bot token not checked: Slack did not answer", "info", 2))
        elif state.status == "ok":
            findings.append(Finding("bot token works (auth.test)", "ok", 2))
        elif state.status == "revoked":
            findings.append(
                Finding(
                    f"{label}: Slack refused its bot token ({state.detail}): the app was uninstalled "
                    f"or the token revoked; reinstall it through {install_url} to resume its "
                    "schedules, or ignore this if the workspace left for good",
                    "problem",
                    2,
                )
            )
        else:
            findings.append(
                Finding(
                    f"{label}: auth.test with its bot token answered {state.detail}: reinstall the app "
                    f"through {install_url}",
                    "problem",
                    2,
                )
            )
        channels = [
            c
            for c in by_token.get(bot.bot_token, [])
            # A token refused before this installation is not this installation's failure.
            if not (c.error in AUTH_ERRORS and c.last_failed_at and c.last_failed_at < bot.installed_at)
        ]
        for channel in channels:
            findings.append(Finding(f"{label}: {_failed_post(channel, install_url)}", "problem", 2))
        if not channels:
            days = RECENT_FAILURES.days
            findings.append(Finding(f"no failed posts in the last {days} days", "ok", 2))
    if unreachable:
        findings.append(Finding(f"bot tokens not checked: {unreachable}"))
    return findings


def _failed_post(channel: FailedChannel, install_url: str) -> str:
    from bot.posting import AUTH_ERRORS, CHANNEL_ERRORS

    times = ""
    if channel.failures > 1 and channel.last_failed_at:
        times = f", {channel.failures} slots, the last at {channel.last_failed_at:%Y-%m-%d %H:%M UTC}"
    elif channel.last_failed_at:
        times = f", at {channel.last_failed_at:%Y-%m-%d %H:%M UTC}"
    what = f"scheduled posts in channel {channel.channel_id} failed ({channel.error}{times})"
    if channel.error in CHANNEL_ERRORS:
        fix = (
            "invite the bot there with `/invite @Impact`, or remove its schedule with `/impact schedule off`"
        )
    elif channel.error in AUTH_ERRORS:
        fix = f"Slack refused the workspace's token: reinstall the app through {install_url}"
    elif channel.error == "not posted within the grace period":
        fix = (
            "no process could post it in time (the bot down, or Slack unreachable): keep a bot "
            "process running; the next slots post as usual"
        )
    else:
        fix = "see the bot's log for that channel; the next slots are tried as usual"
    return f"{what}: {fix}"
