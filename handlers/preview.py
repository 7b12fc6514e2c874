"""`/impact story`: the ephemeral preview, its Post, Shuffle and Cancel buttons, and Home's Post now."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.manager_views import ACTION_CANCEL, ACTION_HOME_POST, ACTION_POST, ACTION_SHUFFLE, preview_blocks
from bot.messages import t
from bot.posting import ChannelProblem, choose_for_channel, story_message
from bot.quicklog import parse_channel_ref, plain_text
from bot.render import query_text
from bot.services import Services
from handlers.common import (
    DB_ERRORS,
    apologise,
    direct_message,
    is_manager,
    log,
    never_raises,
    refusal,
    slack_error_text,
)
from handlers.context import Invocation, Request, request_of
from storage.models import utcnow

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,30}$")


def register(app: App, services: Services) -> None:
    """Listen to the preview's buttons and to Home's Post now."""

    def on_preview_button(
        ack: Ack,
        respond: Respond,
        client: WebClient,
        context: BoltContext,
        action: dict[str, Any],
    ) -> None:
        ack()
        press_preview_button(services, respond, client, request_of(context), action)

    for action_id in (ACTION_POST, ACTION_SHUFFLE, ACTION_CANCEL):
        app.action(action_id)(never_raises(on_preview_button))

    def on_home_post(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, action: dict[str, Any]
    ) -> None:
        ack()
        post_from_home(services, body, client, context, action)

    app.action(ACTION_HOME_POST)(never_raises(on_home_post))


def preview_story(inv: Invocation) -> None:
    """`/impact story [#channel] [customer or tag]`: an ephemeral preview with Post, Shuffle, Cancel."""
    rest = inv.rest
    words = rest.split(maxsplit=1)
    channel = str(inv.body.get("channel_id") or "")
    if words and parse_channel_ref(words[0]):
        channel = parse_channel_ref(words[0]) or channel
        rest = words[1] if len(words) > 1 else ""
    state = {"c": channel, "q": plain_text(rest), "s": 0, "n": utcnow().isoformat()}
    show_preview(inv.services, inv.request, inv.respond, state)


def show_preview(
    services: Services, request: Request, respond: Respond, state: dict[str, Any], replace: bool = False
) -> None:
    """The preview of what would be posted in the state's channel, in the state's order: the post
    in the channel's language (as it will go out), around it the manager's own."""
    lang = request.language
    try:
        ws = request.workspace_id()
        post_lang = services.poster.channel_language(ws, state["c"])
        choice = choose_for_channel(
            services.db,
            ws,
            state["c"],
            utcnow(),
            query=state.get("q", ""),
            skip=int(state.get("s", 0)),
        )
    except DB_ERRORS:
        apologise(respond, lang)
        return
    heading = None
    if choice.story is None and state.get("q"):
        respond(text=query_text("preview.empty", lang, state["q"]), replace_original=replace)
        return
    if choice.story is None:
        heading = t("preview.invitation", lang)
    post_blocks, text = story_message(choice, post_lang)
    respond(
        blocks=preview_blocks(post_blocks, state["c"], lang, state, heading),
        text=text,
        replace_original=replace,
    )


def press_preview_button(
    services: Services, respond: Respond, client: WebClient, request: Request, action: dict[str, Any]
) -> None:
    """Post, Shuffle or Cancel, for managers only."""
    lang = request.language
    manager = is_manager(services, client, request)
    if not manager:
        respond(text=refusal(manager, lang), replace_original=False)
        return
    state = preview_state(action.get("value"))
    if state is None:
        log.warning("bad preview state %r", action.get("value"))
        respond(text=t("listener_failed", lang), replace_original=False)
        return
    action_id = action.get("action_id")
    if action_id == ACTION_CANCEL:
        respond(delete_original=True)
    elif action_id == ACTION_SHUFFLE:
        state["s"] = int(state.get("s", 0)) + 1
        show_preview(services, request, respond, state, replace=True)
    else:
        respond(text=post_now(services, request, state), replace_original=True)


def post_from_home(
    services: Services, body: dict[str, Any], client: WebClient, context: BoltContext, action: dict[str, Any]
) -> None:
    """Home's Post now: post in that channel once, tell the manager by DM, refresh their Home tab."""
    request = request_of(context)
    lang, user = request.language, request.user_id
    if user is None:
        log.warning("Post now without a valid user id")
        return
    manager = is_manager(services, client, request)
    if not manager:
        direct_message(client, user, refusal(manager, lang))
        return
    raw = action.get("value") or ""
    state = preview_state(raw) or {"c": raw, "n": None}
    channel = state.get("c")
    if not isinstance(channel, str) or not CHANNEL_ID.match(channel):
        log.warning("Post now with a bad channel %r", channel)
        direct_message(client, user, t("listener_failed", lang))
        return
    direct_message(
        client, user, post_now(services, request, {"c": channel, "q": "", "s": 0, "n": state.get("n")})
    )
    # A fresh Home tab carries a fresh Post now button for the next deliberate post.
    from handlers.home import publish_home

    publish_home(services, client, request)


def preview_state(value: Any) -> dict[str, Any] | None:
    """The preview's state from a button value: channel, query, skip, nonce; None when junk."""
    try:
        state = json.loads(value or "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    channel, query, skip, nonce = state.get("c", ""), state.get("q", ""), state.get("s", 0), state.get("n")
    if not isinstance(channel, str) or not isinstance(query, str) or not isinstance(skip, int):
        return None
    if nonce is not None and not isinstance(nonce, str):
        return None
    return {"c": channel, "q": query, "s": max(0, min(skip, 10_000)), "n": nonce}


def post_now(services: Services, request: Request, state: dict[str, Any]) -> str:
    """Post from a preview or Home, once per nonce, in the channel's language; returns what to
    tell the manager (in theirs)."""
    lang, channel = request.language, state["c"]
    try:
        nonce = datetime.fromisoformat(state["n"]) if state.get("n") else None
    except ValueError:
        nonce = None
    if nonce is not None and nonce.tzinfo is None:
        nonce = nonce.replace(tzinfo=UTC)
    try:
        outcome = services.poster.post_story_now(
            request.team_id,
            request.workspace_id(),
            channel,
            query=state.get("q", ""),
            skip=int(state.get("s", 0)),
            nonce=nonce,
            enterprise_id=request.enterprise_id,
        )
    except ChannelProblem as e:
        if e.error in ("not_in_channel", "channel_not_found"):
            return t(f"slack_error.{e.error}", lang)
        return t("slack_error.other", lang, error=e.error)
    except DB_ERRORS:
        return t("db_unavailable_short", lang)
    except SlackApiError as e:
        if e.response.status_code == 200:
            return slack_error_text(e, lang)
        log.warning("post in %s failed for team %s: %r", channel, request.team_id, e)
        return t("post.failed", lang, channel=channel)
    except Exception as e:  # noqa: BLE001 - Slack unreachable: the next click checks first
        log.warning("post in %s failed for team %s: %r", channel, request.team_id, e)
        return t("post.failed", lang, channel=channel)
    if outcome.status == "already":
        return t("already_posted", lang)
    if outcome.status == "uncertain":
        return t("post.uncertain", lang, channel=channel)
    if outcome.status == "found":
        return t("post.found", lang, channel=channel, permalink=outcome.permalink)
    return t("posted", lang, channel=channel, permalink=outcome.permalink)
