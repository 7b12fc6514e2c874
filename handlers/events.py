"""Events API listeners: reactions on the bot's posts feed appreciation.

Bolt acks events by itself before the listener runs (process_before_response is off), so
these listeners only do the counting. Counting is idempotent: an add is one unique row and a
remove deletes that row or finds nothing, so an event delivered twice never counts twice.
A redelivery (header X-Slack-Retry-Num) can also arrive late, after the user changed their
mind; then Slack's current reactions decide, so a stale "added" cannot resurrect a removed
reaction and a stale "removed" cannot drop a reaction added again since.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from handlers.common import DB_ERRORS, log, never_raises
from handlers.context import Request, request_of
from storage import posts


def register(app: App, services: Services) -> None:
    """Listen to reactions added and removed."""

    def on_reaction_added(
        event: dict[str, Any], client: WebClient, context: BoltContext, request: BoltRequest
    ) -> None:
        count_reaction(services, event, request_of(context), client, added=True, retry=_is_retry(request))

    def on_reaction_removed(
        event: dict[str, Any], client: WebClient, context: BoltContext, request: BoltRequest
    ) -> None:
        count_reaction(services, event, request_of(context), client, added=False, retry=_is_retry(request))

    def on_uninstalled(event: dict[str, Any], context: BoltContext) -> None:
        forget_installation(services, request_of(context), str(event.get("type") or ""))

    app.event("app_uninstalled")(never_raises(on_uninstalled))
    app.event("tokens_revoked")(never_raises(on_uninstalled))
    app.event("reaction_added")(never_raises(on_reaction_added))
    app.event("reaction_removed")(never_raises(on_reaction_removed))


def forget_installation(services: Services, request: Request, why: str) -> None:
    """The workspace uninstalled the app or revoked its tokens: delete its installation.

    Its schedules stop in every process, because a workspace without an installation gets no
    Web API call (see bot.posting); its stories stay until an operator purges them. A reinstall
    stores a new installation, and the schedules go on from the next slot.
    """
    team, enterprise = request.team_id, request.enterprise_id or None
    if services.installations is None:
        log.error(
            "%s for team %s: SLACK_BOT_TOKEN no longer works; reinstall the app and update it", why, team
        )
        return
    org_wide = bool(enterprise) and team == enterprise
    services.installations.delete_all(enterprise_id=enterprise, team_id=None if org_wide else team)
    log.warning(
        "%s: deleted the installation of team %s (enterprise %s); its stories stay",
        why,
        team,
        enterprise or "-",
    )


def _is_retry(request: BoltRequest) -> bool:
    headers = getattr(request, "headers", None) or {}
    return bool(headers.get("x-slack-retry-num"))


def count_reaction(
    services: Services,
    event: dict[str, Any],
    request: Request,
    client: WebClient,
    *,
    added: bool,
    retry: bool = False,
) -> None:
    """Count (or uncount) one user's reaction when it is on one of the bot's posts."""
    item = event.get("item") or {}
    channel, ts = item.get("channel"), item.get("ts")
    user, reaction = event.get("user"), event.get("reaction")
    if item.get("type") != "message" or not (channel and ts and user and reaction):
        return  # files, file comments and malformed events are not story posts
    try:
        ws = request.workspace_id()
        with services.db.session() as session:
            if not posts.is_bot_post(session, ws, channel, ts):
                log.debug("reaction %s by %s on %s/%s ignored: not a bot post", reaction, user, channel, ts)
                return
        if retry:
            added = _still_reacted(client, channel, ts, user, reaction, default=added)
        if added:
            counted = posts.add_reaction(services.db, ws, channel, ts, user, reaction)
            outcome = "counted" if counted else "already counted"
            log.debug("reaction %s by %s on %s/%s %s", reaction, user, channel, ts, outcome)
        else:
            with services.db.session() as session:
                posts.remove_reaction(session, ws, channel, ts, user, reaction)
            log.debug("reaction %s by %s on %s/%s uncounted", reaction, user, channel, ts)
    except DB_ERRORS as e:
        log.error("could not count reaction %s on %s/%s: %r", reaction, channel, ts, e)


def _still_reacted(
    client: WebClient, channel: str, ts: str, user: str, reaction: str, *, default: bool
) -> bool:
    """Whether `user`'s `reaction` is on the message now, per Slack; `default` if Slack can't say."""
    try:
        message = client.reactions_get(channel=channel, timestamp=ts, full=True).get("message") or {}
    except SlackApiError as e:
        log.warning("reactions.get failed for %s/%s: %s", channel, ts, e.response.get("error"))
        return default
    return any(
        r.get("name") == reaction and user in (r.get("users") or []) for r in message.get("reactions") or []
    )
