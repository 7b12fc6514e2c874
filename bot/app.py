"""The Bolt app factory: one app for Socket Mode and HTTP, wired to the handlers."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import urlsplit

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

from bot import slack_client
from bot.manifest import bot_scopes
from bot.messages import t
from bot.services import Services
from bot.settings import Settings
from handlers import register_all

log = logging.getLogger(__name__)

# Threads that run listeners after their ack. A listener holds one while it waits on Slack (at
# most slack_client.CALL_TIMEOUT per call), so this many slow calls can hang at once before a
# new request waits for a thread; acks themselves come from the HTTP server's threads.
LISTENER_THREADS = 32


class SlackIdentity(Protocol):
    """Who the bot token belongs to, as auth.test tells at start (see bot.startup)."""

    @property
    def team_id(self) -> str: ...

    @property
    def enterprise_id(self) -> str: ...

    @property
    def bot_user_id(self) -> str: ...


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    """A Web API client honouring SLACK_API_URL, with a deadline and retries that never double."""
    return slack_client.make_client(settings.api_url, token if token is not None else settings.bot_token)


def create_app(services: Services, *, identity: SlackIdentity | None = None) -> App:
    """Build the Bolt app with every listener registered.

    `identity` is what auth.test said at start; without it the first request asks once.
    """
    settings = services.settings
    kwargs: dict[str, Any] = {
        "signing_secret": settings.signing_secret or "socket-mode",
        "client": services.clients.base,
        "logger": logging.getLogger("impact.bolt"),
        # Listeners ack first and then work; in HTTP mode Bolt answers Slack at the ack.
        "process_before_response": False,
        "raise_error_for_unhandled_request": False,
        # The signature is checked once, by the request guard: HTTP requests reach Bolt only
        # through bot.server.wsgi_app, whose guard (bot.http_guard) verifies every POST to
        # /slack/events before Bolt reads it and answers 401 otherwise, and Bolt dispatches no
        # other HTTP request to a listener. Bolt's own check would verify the same bytes again;
        # Socket Mode requests carry no signature and Bolt never checked them.
        "request_verification_enabled": False,
        "listener_executor": ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="impact-listener"),
    }
    if settings.oauth_mode:
        kwargs["oauth_settings"] = oauth_settings(services)
    else:
        single = SingleWorkspace(settings, identity)

        def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult | None:
            # A plain function: Bolt passes arguments by the names it finds in the signature.
            return single.authorize(enterprise_id, team_id, user_id)

        kwargs["authorize"] = authorize
        kwargs["user_facing_authorize_error_message"] = t("foreign_workspace", settings.language)
    bolt_logger = logging.getLogger("impact.bolt")
    bolt_logger.addFilter(_env_token_notices)
    try:
        app = App(**kwargs)
    finally:
        bolt_logger.removeFilter(_env_token_notices)

    def on_error(
        error: Exception, body: dict[str, Any], logger: logging.Logger, response: BoltResponse | None
    ) -> BoltResponse | None:
        # A plain function with these names: Bolt passes an error handler's arguments by name.
        return _on_error(error, body, logger, response, settings.language)

    app.error(on_error)
    register_all(app, services)
    return app


def oauth_settings(services: Services) -> OAuthSettings:
    """Bolt's OAuth settings for this app: `impact-bot doctor` checks these very ones."""
    settings = services.settings
    # The install link follows SLACK_API_URL's host (GovSlack, proxies), not slack.com.
    api = urlsplit(settings.api_url)
    oauth = OAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        # From the settings, so a value in .env counts (Bolt alone reads only the environment).
        redirect_uri=settings.redirect_uri,
        authorization_url=f"{api.scheme}://{api.netloc}/oauth/v2/authorize",
        scopes=list(settings.scopes) or bot_scopes(),
        installation_store=services.installations,
        state_store=services.oauth_states,
        installation_store_bot_only=True,  # the app asks for bot scopes only
    )
    if services.installations is not None:
        # Bolt's default authorize asks Slack's auth.test on every request, before the ack: one
        # more round trip to Slack each time. Its answer for a token never changes, so it is kept
        # per token; the installation itself is still looked up on every request, so an uninstall
        # (the installation deleted) refuses the workspace's next request at once.
        oauth.authorize = InstallationStoreAuthorize(
            logger=logging.getLogger("impact.bolt"),
            installation_store=services.installations,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            bot_only=True,
            cache_enabled=True,
            client=services.clients.base,
        )
    return oauth


def _env_token_notices(record: logging.LogRecord) -> bool:
    """Drop Bolt's notices that SLACK_BOT_TOKEN in the environment goes unused.

    The app gets its token through its client and authorize on purpose; Bolt sees the variable
    in the environment and warns at every start, two lines that bury a start-up failure.
    """
    notices = (warning_client_prioritized_and_token_skipped(), warning_token_skipped())
    return record.getMessage() not in notices


class SingleWorkspace:
    """Bolt's authorize for one bot token: requests from any other workspace are refused.

    A signed request from another team (or a junk team id in a malformed one) must not create
    a workspace the operator never installed into.
    """

    def __init__(self, settings: Settings, identity: SlackIdentity | None) -> None:
        self.settings = settings
        self.identity = identity

    def _whoami(self) -> SlackIdentity | None:
        if self.identity is None:
            client = slack_client.quick_client(make_client(self.settings))
            try:
                answer = client.auth_test()
            except Exception as e:  # noqa: BLE001 - unreachable or rejected: refuse for now, ask again
                log.error("auth.test failed, so this request cannot be served: %r", e)
                return None
            self.identity = _Identity(
                str(answer.get("team_id") or ""),
                str(answer.get("enterprise_id") or ""),
                str(answer.get("user_id") or ""),
            )
        return self.identity

    def authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult | None:
        """Bolt's authorize hook (Bolt passes these by name)."""
        me = self._whoami()
        if me is None:
            return None
        ours = team_id == me.team_id or bool(me.enterprise_id and enterprise_id == me.enterprise_id)
        if not ours:
            log.warning(
                "refused a request from team %r (enterprise %r): not this bot's workspace",
                team_id,
                enterprise_id,
            )
            return None
        return AuthorizeResult(
            enterprise_id=me.enterprise_id or None,
            team_id=me.team_id,
            bot_token=self.settings.bot_token,
            bot_user_id=me.bot_user_id,
            user_id=user_id,
        )


class _Identity:
    def __init__(self, team_id: str, enterprise_id: str, bot_user_id: str) -> None:
        self.team_id, self.enterprise_id, self.bot_user_id = team_id, enterprise_id, bot_user_id


def _on_error(
    error: Exception,
    body: dict[str, Any],
    logger: logging.Logger,
    response: BoltResponse | None,
    lang: str = "en",
) -> BoltResponse | None:
    """Log once with the team and the reason; a request not yet answered gets a 4xx or an apology."""
    team = (body.get("team") or {}).get("id") if isinstance(body.get("team"), dict) else body.get("team_id")
    kind = body.get("type") or body.get("command")
    logger.error("listener failed for %s (team %s): %r", kind, team, error)
    if response is None:
        return None  # already acknowledged
    if body.get("command"):
        # A slash command shows the answer's text to the user: say sorry rather than fail.
        text = t("listener_failed", lang)
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    return BoltResponse(status=400, body="")
