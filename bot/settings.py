"""One settings object, read once from the environment and `.env`, validated at start."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

LANGUAGES = ("en", "de", "nl")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
DEFAULT_API_URL = "https://slack.com/api/"

# The credentials: a placeholder in any of them must never reach Slack or verify a request.
SECRET_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
)
# `.env.example`'s values, and the shapes placeholders take in guides and copied configs.
PLACEHOLDERS = frozenset({"xoxb-your-bot-token", "your-signing-secret", "xapp-your-app-token"})
PLACEHOLDER_PATTERN = re.compile(
    r"your[-_ ]|change[-_ ]?me|replace[-_ ]?me|placeholder|example|dummy|<|>|\.\.\.|…"
    r"|^(xox[a-z]-|xapp-)?([x*0]+|xxx.*|\.*)$",
    re.IGNORECASE,
)
WHERE = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-...) from your app's OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "the Signing Secret from your app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-...) from Basic Information > App-Level Tokens",
    "SLACK_CLIENT_ID": "the Client ID from your app's Basic Information page",
    "SLACK_CLIENT_SECRET": "the Client Secret from your app's Basic Information page",
}


def is_placeholder(value: str) -> bool:
    """True for a value copied from `.env.example` or shaped like a placeholder, not a credential."""
    return value.lower() in PLACEHOLDERS or bool(PLACEHOLDER_PATTERN.search(value))


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable and the fix."""

    def __init__(self, variable: str, fix: str) -> None:
        super().__init__(f"{variable}: {fix}")
        self.variable = variable
        self.fix = fix


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    # Where Slack sends installers back (OAuth mode); None: the app's configured Redirect URL.
    redirect_uri: str | None = None
    scopes: tuple[str, ...] = ()
    api_url: str = DEFAULT_API_URL
    database_url: str = "sqlite:///impact.db"
    host: str = "0.0.0.0"
    port: int = 3000
    managers: frozenset[str] = field(default_factory=frozenset)
    manager_group: str | None = None
    timezone: str = "UTC"
    language: str = "en"
    log_level: str = "INFO"
    log_format: str = "text"
    grace_hours: float = 6.0
    slot_lease_seconds: int = 600
    sweep_seconds: int = 30
    # Messages per minute and burst per workspace, shared by every process (bot.pacing).
    posts_per_minute: int = 600
    post_burst: int = 10

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @property
    def oauth_mode(self) -> bool:
        return bool(self.client_id and self.client_secret) and not self.bot_token


def _merged_env(environ: Mapping[str, str] | None, dotenv_path: Path | None) -> dict[str, str]:
    env: dict[str, str] = {}
    path = dotenv_path if dotenv_path is not None else Path.cwd() / ".env"
    if path.is_file():
        env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    # The process environment wins over `.env`.
    env.update(os.environ if environ is None else environ)
    return env


def load_settings(
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
    *,
    need_slack: bool = True,
) -> Settings:
    """Read and validate the settings; raise SettingsError naming the first bad variable.

    `need_slack=False` is for commands that only touch the database (migrate, export, import).
    """
    env = _merged_env(environ, dotenv_path)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    def secret(name: str) -> str | None:
        value = get(name)
        if value is None or not is_placeholder(value):
            return value
        if not need_slack:
            return None  # database-only commands never send it anywhere: treat it as unset
        raise SettingsError(
            name,
            f"{value!r} is a placeholder, not a credential: put {WHERE[name]} into .env, "
            "or delete the line if you do not use it",
        )

    bot_token = secret("SLACK_BOT_TOKEN")
    signing_secret = secret("SLACK_SIGNING_SECRET")
    app_token = secret("SLACK_APP_TOKEN")
    client_id = secret("SLACK_CLIENT_ID")
    client_secret = secret("SLACK_CLIENT_SECRET")

    if bot_token is not None and not bot_token.startswith("xoxb-"):
        raise SettingsError(
            "SLACK_BOT_TOKEN",
            "must be the bot token starting with xoxb- (OAuth & Permissions page of your app)",
        )
    if app_token is not None and not app_token.startswith("xapp-"):
        raise SettingsError(
            "SLACK_APP_TOKEN",
            "must be an app-level token starting with xapp- (Basic Information > App-Level "
            "Tokens, scope connections:write), or unset it to use HTTP mode",
        )
    if (client_id is None) != (client_secret is None):
        missing = "SLACK_CLIENT_SECRET" if client_secret is None else "SLACK_CLIENT_ID"
        raise SettingsError(missing, "OAuth mode needs both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
    if need_slack:
        if bot_token is None and client_id is None:
            raise SettingsError(
                "SLACK_BOT_TOKEN",
                "is not set: copy the Bot User OAuth Token (xoxb-...) into .env, "
                "or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth mode",
            )
        if app_token is None and signing_secret is None:
            raise SettingsError(
                "SLACK_SIGNING_SECRET",
                "is not set: HTTP mode needs the Signing Secret (Basic Information page), "
                "or set SLACK_APP_TOKEN to use Socket Mode",
            )
        if client_id is not None and bot_token is None and app_token is not None:
            raise SettingsError(
                "SLACK_APP_TOKEN",
                "OAuth mode serves many workspaces over HTTP: unset SLACK_APP_TOKEN",
            )

    api_url = get("SLACK_API_URL") or DEFAULT_API_URL
    if not re.match(r"^https?://", api_url):
        raise SettingsError("SLACK_API_URL", "must be an http(s) URL such as https://slack.com/api/")
    if not api_url.endswith("/"):
        api_url += "/"

    database_url = get("DATABASE_URL") or "sqlite:///impact.db"
    try:
        from sqlalchemy.engine import make_url

        make_url(database_url)
    except Exception:
        raise SettingsError(
            "DATABASE_URL",
            "is not a valid SQLAlchemy URL; use sqlite:///impact.db or "
            "postgresql+psycopg://user:password@host:5432/dbname",
        ) from None

    port_text = get("PORT") or "3000"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SettingsError("PORT", f"must be a port number from 1 to 65535, not {port_text!r}")

    managers = frozenset(m.strip() for m in (get("IMPACT_MANAGERS") or "").split(",") if m.strip())
    bad = sorted(m for m in managers if not USER_ID.match(m))
    if bad:
        raise SettingsError(
            "IMPACT_MANAGERS",
            f"must be comma-separated Slack user IDs like U012AB3CD, not {bad[0]!r}",
        )

    manager_group = get("IMPACT_MANAGER_GROUP")
    if manager_group is not None:
        manager_group = manager_group.lstrip("@")

    timezone = get("IMPACT_TIMEZONE") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            "IMPACT_TIMEZONE", f"{timezone!r} is not an IANA time zone; use e.g. Europe/Berlin"
        ) from None

    language = (get("IMPACT_LANGUAGE") or "en").lower()
    if language not in LANGUAGES:
        raise SettingsError("IMPACT_LANGUAGE", f"must be one of {', '.join(LANGUAGES)}")

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(log_level), int):
        raise SettingsError("LOG_LEVEL", "must be DEBUG, INFO, WARNING or ERROR")
    log_format = (get("LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        raise SettingsError("LOG_FORMAT", "must be text (the default) or json, for one JSON object per line")

    grace_text = get("IMPACT_GRACE_HOURS") or "6"
    try:
        grace_hours = float(grace_text)
        if grace_hours < 0:
            raise ValueError
    except ValueError:
        raise SettingsError("IMPACT_GRACE_HOURS", "must be a number of hours, e.g. 6") from None

    lease_text = get("IMPACT_SLOT_LEASE_SECONDS") or "600"
    if not lease_text.isdigit() or int(lease_text) < 1:
        raise SettingsError("IMPACT_SLOT_LEASE_SECONDS", "must be a whole number of seconds")

    sweep_text = get("IMPACT_SWEEP_SECONDS") or "30"
    if not sweep_text.isdigit() or not 1 <= int(sweep_text) <= 3600:
        raise SettingsError("IMPACT_SWEEP_SECONDS", "must be a whole number of seconds from 1 to 3600")

    rate_text = get("IMPACT_POSTS_PER_MINUTE") or "600"
    if not rate_text.isdigit() or not 1 <= int(rate_text) <= 6000:
        raise SettingsError(
            "IMPACT_POSTS_PER_MINUTE", "must be a whole number of messages per minute from 1 to 6000"
        )
    burst_text = get("IMPACT_POST_BURST") or "10"
    if not burst_text.isdigit() or not 1 <= int(burst_text) <= 1000:
        raise SettingsError("IMPACT_POST_BURST", "must be a whole number of messages from 1 to 1000")

    scopes = tuple(s.strip() for s in (get("SLACK_SCOPES") or "").split(",") if s.strip())

    return Settings(
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=get("SLACK_REDIRECT_URI"),
        scopes=scopes,
        api_url=api_url,
        database_url=database_url,
        host=get("HOST") or "0.0.0.0",
        port=int(port_text),
        managers=managers,
        manager_group=manager_group,
        timezone=timezone,
        language=language,
        log_level=log_level,
        log_format=log_format,
        grace_hours=grace_hours,
        slot_lease_seconds=int(lease_text),
        sweep_seconds=int(sweep_text),
        posts_per_minute=int(rate_text),
        post_burst=int(burst_text),
    )
