"""Opening the story modal, from `/impact`, the Edit button and the message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.modal import story_modal
from domain.story import Draft
from handlers.common import log, slack_error_text, tell_failure


def open_modal(
    client: WebClient,
    body: dict[str, Any],
    respond: Respond,
    lang: str,
    draft: Draft,
    *,
    story_id: int | None = None,
) -> None:
    """Open the story modal prefilled with `draft`; on failure tell the user why, with their text."""
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    # The response_url lets the confirmation reach the user even where the bot is no member.
    view = story_modal(
        draft,
        lang,
        story_id=story_id,
        channel=channel,
        response_url=body.get("response_url") or "",
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except Exception as e:  # noqa: BLE001 - Slack errors, timeouts, dropped connections alike
        # views.open is never retried (a trigger is single-use): say so and keep the text.
        log.warning("views.open failed for team %s: %r", body.get("team_id") or "", e)
        tell_failure(respond, slack_error_text(e, lang), draft.quote)
