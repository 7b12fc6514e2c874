"""Checks before the bot starts: each failure is one line naming the problem and the fix."""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.settings import Settings
from storage.db import Database

# One short call at start: an operator waits for it, so no retries and no 15 s client timeout.
SLACK_CHECK_SECONDS = 5.0

# auth.test errors that mean the token itself is wrong, with the fix for each.
REJECTED_TOKEN = {
    "invalid_auth": "copy the Bot User OAuth Token (xoxb-...) again from OAuth & Permissions",
    "not_authed": "copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions into .env",
    "token_revoked": "the app was uninstalled or its token revoked: reinstall it (OAuth & Permissions "
    "> Install to Workspace) and copy the new Bot User OAuth Token",
    "token_expired": "token rotation is on and the token expired: turn rotation off or reinstall the "
    "app and copy the new Bot User OAuth Token",
    "account_inactive": "the workspace or the bot user is deactivated: reinstall the app in an active "
    "workspace and copy its Bot User OAuth Token",
    "not_allowed_token_type": "use the Bot User OAuth Token (xoxb-...), not a user or app-level token",
}
REJECTED_APP_TOKEN = {
    "invalid_auth": "generate an app-level token with the scope connections:write under Basic "
    "Information > App-Level Tokens",
    "not_authed": "set an app-level token (xapp-...) from Basic Information > App-Level Tokens",
    "token_revoked": "the app-level token was revoked: generate a new one under Basic Information > "
    "App-Level Tokens",
    "not_allowed_token_type": "use an app-level token (xapp-...) from Basic Information > App-Level "
    "Tokens, not the bot token",
    "missing_scope": "the app-level token lacks connections:write: generate one with that scope under "
    "Basic Information > App-Level Tokens",
    "account_inactive": "the workspace or app is deactivated: reinstall the app in an active workspace",
}

T = TypeVar("T")


class StartupError(Exception):
    """The bot cannot start; the message is one line naming the problem and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


@dataclass(frozen=True)
class SlackIdentity:
    """Who the bot token belongs to, as `auth.test` answered at start."""

    team_id: str
    enterprise_id: str  # "" outside Enterprise Grid, as the workspaces table stores it
    bot_user_id: str


def check_client(settings: Settings, token: str | None, timeout: float = SLACK_CHECK_SECONDS) -> WebClient:
    """A Web API client for start-up checks: SLACK_API_URL, a short deadline and no retries."""
    return WebClient(token=token, base_url=settings.api_url, timeout=int(timeout) or 1, retry_handlers=[])


def check_slack(settings: Settings, timeout: float = SLACK_CHECK_SECONDS) -> SlackIdentity | None:
    """Ask Slack (`auth.test`, once) whom the bot token belongs to; StartupError when it cannot.

    None in OAuth mode, where each workspace brings its own token at install time.
    """
    if not settings.bot_token:
        return None
    client = check_client(settings, settings.bot_token, timeout)
    response = call_slack(
        lambda: client.auth_test(), settings, "auth.test", "SLACK_BOT_TOKEN", REJECTED_TOKEN, timeout
    )
    enterprise = str(response.get("enterprise_id") or "")
    # An org-wide install's token may answer without a team: the org stands in for it, as the
    # workspaces table stores such requests (handlers.common.team_ids).
    team = str(response.get("team_id") or enterprise)
    user = str(response.get("user_id") or "")
    if not team or not user:
        raise StartupError(
            f"SLACK_API_URL: {settings.api_url} answered auth.test without a team and user: point "
            "SLACK_API_URL at Slack's Web API (https://slack.com/api/)"
        )
    return SlackIdentity(team_id=team, enterprise_id=enterprise, bot_user_id=user)


def call_slack(
    call: Callable[[], T],
    settings: Settings,
    method: str,
    variable: str,
    rejected: dict[str, str],
    timeout: float = SLACK_CHECK_SECONDS,
) -> T:
    """Run one Web API call; any failure becomes a StartupError naming the variable to fix."""
    try:
        with quiet(logging.getLogger("slack_sdk")):  # it logs the failure we report in one line
            return call()
    except SlackApiError as e:
        code = str(e.response.get("error") or "")
        status = getattr(e.response, "status_code", 200)
        if code in rejected:
            raise StartupError(f"{variable}: Slack rejected the token ({code}): {rejected[code]}") from None
        if status == 429 or status >= 500:
            raise StartupError(
                f"Slack answered {method} with HTTP {status} ({code or 'no error code'}): Slack is "
                "busy or down (https://status.slack.com); start again in a minute"
            ) from None
        raise StartupError(
            f"{variable}: Slack answered {method} with {code or f'HTTP {status}'}: check the token, "
            "and that SLACK_API_URL points at Slack's Web API"
        ) from None
    except TimeoutError:
        raise StartupError(_unreachable(settings, f"no answer to {method} within {timeout:g} s")) from None
    except URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError):
            raise StartupError(
                _unreachable(settings, f"no answer to {method} within {timeout:g} s")
            ) from None
        raise StartupError(_unreachable(settings, _reason(reason))) from None
    except (OSError, SlackClientError, ValueError) as e:
        raise StartupError(_unreachable(settings, _reason(e))) from None


def _unreachable(settings: Settings, why: str) -> str:
    return (
        f"SLACK_API_URL: cannot reach Slack at {settings.api_url} ({why}): check the network, the "
        "proxy (HTTPS_PROXY) and SLACK_API_URL, then start again"
    )


def _reason(error: object) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "host name not found"
    text = str(getattr(error, "strerror", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def quiet(logger: logging.Logger) -> Iterator[None]:
    """Silence a library's own logging for one step whose failure we report in one line."""
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def socket_mode_url(settings: Settings, timeout: float = SLACK_CHECK_SECONDS) -> str:
    """A WebSocket URL from `apps.connections.open` (once, with a deadline); StartupError otherwise."""
    # Called with the app-level token: its scope (connections:write) is no bot scope of the manifest.
    app_level = check_client(settings, None, timeout)
    response = call_slack(
        lambda: app_level.apps_connections_open(app_token=settings.app_token or ""),
        settings,
        "apps.connections.open",
        "SLACK_APP_TOKEN",
        REJECTED_APP_TOKEN,
        timeout,
    )
    url = str(response.get("url") or "")
    if not url.startswith(("wss://", "ws://")):
        raise StartupError(
            f"SLACK_API_URL: {settings.api_url} answered apps.connections.open without a WebSocket URL: "
            "point SLACK_API_URL at Slack's Web API (https://slack.com/api/)"
        )
    return url


def connect_socket_mode(app: Any, settings: Settings, url: str, timeout: float = SLACK_CHECK_SECONDS) -> Any:
    """A Socket Mode handler connected to `url`; StartupError when the WebSocket cannot be opened."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    logger = logging.getLogger("impact.socket_mode")
    # Its own quick client: after start the handler asks apps.connections.open again by itself
    # whenever Slack closes the connection, and retries on its own schedule.
    handler = SocketModeHandler(
        app, settings.app_token, logger=logger, web_client=check_client(settings, None, timeout)
    )
    handler.client.wss_uri = url
    handler.client.message_listeners.append(log_hello)
    errors: list[Exception] = []
    handler.client.on_error_listeners.append(errors.append)
    try:
        with quiet(logger):
            handler.connect()  # logs and reports a failed connection rather than raising it
    except Exception as e:
        errors.append(e)
    finally:
        handler.client.on_error_listeners.remove(errors.append)
    if not errors and not handler.client.is_connected():
        # The handshake was answered, but not with 101: slack_sdk only logs that.
        errors.append(ConnectionError("the handshake was refused"))
    if errors:
        logger.disabled = True  # its threads would narrate reconnecting while we stop
        handler.close()
        raise StartupError(
            f"Socket Mode: cannot open the WebSocket to Slack ({_reason(errors[0])}): check that the "
            "network and proxy allow wss:// connections to Slack, or use HTTP mode (unset "
            "SLACK_APP_TOKEN and set SLACK_SIGNING_SECRET)"
        )
    return handler


def log_hello(socket_client: Any, message: dict[str, Any], raw: str | None = None) -> None:
    """Say which connection this process holds each time Slack greets a new one.

    Slack hands each envelope to one of an app's connections (up to 10), so with several
    processes the log tells which process had which connection, and how many Slack counts.
    """
    if message.get("type") != "hello":
        return
    slack_host = (message.get("debug_info") or {}).get("host") or "?"
    logging.getLogger("impact").info(
        "Socket Mode connection %s open in process %d on %s (Slack host %s, %s connections for this app)",
        socket_client.session_id(),  # the Socket Mode client, not a Web API call
        os.getpid(),
        socket.gethostname(),
        slack_host,
        message.get("num_connections", "?"),
    )


def open_database(settings: Settings, migrate: bool = True) -> Database:
    """The database, migrated; any failure is a StartupError naming DATABASE_URL and the fix."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        _check_sqlite_path(url.database, shown)
    try:
        db = Database(settings.database_url)
    except ImportError as e:
        raise StartupError(
            f"DATABASE_URL: the driver for {shown.split(':', 1)[0]} is not installed ({e.name or e}): "
            "use sqlite:///impact.db or postgresql+psycopg://..., or install the driver"
        ) from None
    except SQLAlchemyError as e:
        raise StartupError(f"DATABASE_URL: cannot use {shown}: {_first_line(e)}") from None
    try:
        if migrate:
            db.migrate()
        elif not db.ping():
            with db.engine.connect():
                pass  # raises the reason it does not answer
        return db
    except (SQLAlchemyError, OSError) as e:
        db.dispose()
        reason = _first_line(e)
        if url.get_backend_name() == "sqlite":
            fix = "make sure its directory exists and this user may write there"
        elif "does not exist" in reason:
            fix = f"create the database (createdb {url.database}) or correct DATABASE_URL"
        elif "password" in reason or "authentication" in reason:
            fix = "check the user name and password in DATABASE_URL"
        else:
            fix = "check that the server is running and the host and port in DATABASE_URL"
        raise StartupError(f"DATABASE_URL: cannot open {shown} ({reason}): {fix}") from None


def _check_sqlite_path(database: str | None, shown: str) -> None:
    """SQLite says only "unable to open database file": name the directory and what is wrong."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser().absolute()
    directory = path.parent
    if path.is_dir():
        raise StartupError(
            f"DATABASE_URL: {path} is a directory: name a file, e.g. sqlite:///{path}/impact.db"
        )
    if not directory.exists():
        raise StartupError(
            f"DATABASE_URL: the directory {directory} of {shown} does not exist: create it "
            f"(mkdir -p {directory}) or point DATABASE_URL elsewhere"
        )
    if not directory.is_dir():
        raise StartupError(f"DATABASE_URL: {directory} in {shown} is not a directory: correct DATABASE_URL")
    writable = os.access(path, os.W_OK) if path.exists() else os.access(directory, os.W_OK)
    if not writable:
        raise StartupError(
            f"DATABASE_URL: cannot write {path if path.exists() else directory} for {shown}: "
            "give this user write access, or point DATABASE_URL at a writable directory"
        )


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(error).__name__


def listen_error(error: OSError, settings: Settings) -> StartupError:
    """HTTP mode could not listen on HOST:PORT."""
    where = f"{settings.host}:{settings.port}"
    if error.errno == errno.EADDRINUSE:
        fix = "another process listens there: stop it or choose another PORT"
    elif error.errno == errno.EACCES:
        fix = "ports below 1024 need privileges: choose a PORT above 1024"
    else:
        fix = "check HOST and PORT"
    return StartupError(f"PORT: cannot listen on {where} ({_reason(error)}): {fix}")
