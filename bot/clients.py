"""Web API clients per workspace: the bot token in single-workspace mode, each install's own in OAuth."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import InstallationStore

from bot import slack_client
from bot.settings import Settings

log = logging.getLogger("impact.clients")


class Clients:
    """Builds the Web API client a workspace's work needs (SLACK_API_URL, deadline, safe retries)."""

    def __init__(self, settings: Settings, installations: InstallationStore | None = None) -> None:
        self.settings = settings
        self.installations = installations
        # The app's own client: the bot token, or none in OAuth mode (Bolt adds each request's).
        self.base = slack_client.make_client(settings.api_url, None if installations else settings.bot_token)

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
        return slack_client.make_client(self.settings.api_url, token or "")
