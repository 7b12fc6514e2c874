"""The Bolt app factory: one app for Socket Mode and HTTP, wired to the handlers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.managers import ManagerDirectory
from bot.settings import Settings
from storage.db import Database

log = logging.getLogger(__name__)


def retry_handlers() -> list[Any]:
    """Slack's own retry handlers: 429 waits for Retry-After; 5xx and dropped connections back off."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=5),
        ServerErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=3),
    ]


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    """A Web API client honouring SLACK_API_URL, with retries for 429, 5xx and lost connections."""
    return WebClient(
        token=token if token is not None else settings.bot_token,
        base_url=settings.api_url,
        timeout=15,
        retry_handlers=retry_handlers(),
    )


@dataclass
class Services:
    """What the listeners need besides the Slack request: settings, database, helpers."""

    settings: Settings
    db: Database
    managers: ManagerDirectory = field(init=False)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.managers = ManagerDirectory(self.settings.managers, self.settings.manager_group)


def create_app(settings: Settings, db: Database, *, services: Services | None = None) -> App:
    """Build the Bolt app with every listener registered."""
    from handlers import actions, commands, events, fallbacks, home, manager, shortcuts, views

    services = services or Services(settings=settings, db=db)
    kwargs: dict[str, Any] = {
        "signing_secret": settings.signing_secret or "socket-mode",
        "client": make_client(settings),
        "logger": logging.getLogger("impact.bolt"),
        # Listeners ack first and then work; in HTTP mode Bolt answers Slack at the ack.
        "process_before_response": False,
        "raise_error_for_unhandled_request": False,
    }
    if settings.oauth_mode:
        kwargs.pop("client")
        oauth = _oauth_settings(settings, db)
        kwargs["oauth_settings"] = oauth
        kwargs["client"] = make_client(settings, token="")

        def client_for(team: str) -> WebClient:
            """The scheduler posts with each workspace's own installed bot token."""
            bot = oauth.installation_store.find_bot(enterprise_id=None, team_id=team)
            return make_client(settings, token=bot.bot_token if bot else "")

        services.extras.setdefault("client_for", client_for)
    else:
        # The client carries the bot token. auth.test at start would fail where Slack is
        # unreachable; `impact-bot doctor` checks the token instead.
        kwargs["token_verification_enabled"] = False
    app = App(**kwargs)
    app.error(_log_errors)
    from bot.posting import Poster

    services.extras["poster"] = Poster(
        settings,
        db,
        services.managers,
        client_for=services.extras.get("client_for") or (lambda team: app.client),
    )
    # fallbacks last: Bolt runs the first listener that matches.
    for module in (commands, manager, views, actions, shortcuts, events, home, fallbacks):
        module.register(app, services)
    return app


def _oauth_settings(settings: Settings, db: Database) -> Any:
    from slack_bolt.oauth.oauth_settings import OAuthSettings
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    installations = SQLAlchemyInstallationStore(client_id=settings.client_id or "", engine=db.engine)
    states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=db.engine)
    for store in (installations, states):
        store.metadata.create_all(db.engine)
    from bot.manifest import bot_scopes

    return OAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=list(settings.scopes) or bot_scopes(),
        installation_store=installations,
        state_store=states,
    )


def _log_errors(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
    logger.error("listener failed for %s: %r", body.get("type") or body.get("command"), error)
