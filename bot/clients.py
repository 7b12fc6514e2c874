"""Web API clients per workspace: the bot token in single-workspace mode, each install's own in OAuth."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.oauth.installation_store import InstallationStore

from bot import slack_client
from bot.settings import Settings

log = logging.getLogger("impact.clients")


class RateLimitObserver(RetryHandler):
    """Tells the pacer of every HTTP 429 (with the token that got it); retries nothing itself."""

    def __init__(self, notify: Callable[[str, float], None]) -> None:
        super().__init__(max_retry_count=1_000_000)
        self.notify = notify

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            auth = (request.headers.get("Authorization") or [""])[0]
            token = auth.removeprefix("Bearer ").strip()
            try:
                self.notify(token, slack_client.retry_after(response))
            except Exception as e:  # noqa: BLE001 - observing must never break the call
                log.warning("could not pass a rate limit on to the pacer: %r", e)
        return False


class Clients:
    """Builds the Web API client a workspace's work needs (SLACK_API_URL, deadline, safe retries)."""

    def __init__(
        self,
        settings: Settings,
        installations: InstallationStore | None = None,
        *,
        on_rate_limited: Callable[[str, float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.installations = installations
        # The app's own client: the bot token, or none in OAuth mode (Bolt adds each request's).
        # Told of every 429 with the token that got it (bot.pacing.Pacer.rate_limited).
        self.on_rate_limited = on_rate_limited
        self.base = self._observed(
            slack_client.make_client(settings.api_url, None if installations else settings.bot_token)
        )

    def _observed(self, client: WebClient) -> WebClient:
        client.retry_handlers.insert(0, RateLimitObserver(self._rate_limited))
        return client

    def _rate_limited(self, token: str, retry_after: float) -> None:
        if self.on_rate_limited is not None and token:
            self.on_rate_limited(token, retry_after)

    def token_for(self, team_id: str, enterprise_id: str = "") -> str | None:
        """The bot token for this workspace; None in OAuth mode when it has no installation."""
        if self.installations is None:
            return self.settings.bot_token
        # An org-wide install is stored with the enterprise as its team (see handlers.context).
        if not enterprise_id and team_id.startswith("E"):
            enterprise_id = team_id
        org_wide = bool(enterprise_id) and team_id == enterprise_id
        try:
            bot = self.installations.find_bot(
                enterprise_id=enterprise_id or None,
                team_id=None if org_wide else team_id,
                is_enterprise_install=org_wide,
            )
        except Exception as e:  # noqa: BLE001 - an unreadable store means "no token", logged
            log.warning("could not read the installation of team %s: %r", team_id, e)
            return None
        return bot.bot_token if bot is not None and bot.bot_token else None

    def for_team(self, team_id: str, enterprise_id: str = "") -> WebClient:
        """A client carrying this workspace's bot token (an empty one when it has none)."""
        if self.installations is None:
            return self.base
        token = self.token_for(team_id, enterprise_id)
        if token is None:
            log.warning("no installation for team %s (enterprise %s)", team_id, enterprise_id or "-")
        return self._observed(slack_client.make_client(self.settings.api_url, token or ""))
