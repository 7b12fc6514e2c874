"""The message shortcut "Save as customer voice": the modal, prefilled with the message."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError

from bot.app import Services
from bot.quicklog import plain_text
from domain.story import Draft
from handlers.commands import open_modal
from handlers.common import language, log, never_raises

CALLBACK_ID = "save_customer_voice"


def register(app: Any, services: Services) -> None:
    def save_message(ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
        ack()
        open_from_message(services, body, respond, client)

    app.message_shortcut(CALLBACK_ID)(never_raises(save_message))


def open_from_message(services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """Prefill the quote with the message text and the source with its permalink."""
    lang = language(services, body)
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id", "")
    permalink = ""
    try:
        permalink = client.chat_getPermalink(channel=channel, message_ts=message.get("ts"))["permalink"]
    except SlackApiError as e:
        # The permalink is a nicety; the text is what matters.
        log.info("no permalink for %s: %s", channel, e.response.get("error"))
    except Exception as e:  # noqa: BLE001 - a slow Slack must not cost the user their text
        log.info("no permalink for %s: %r", channel, e)
    draft = Draft(quote=plain_text(message.get("text") or ""), source=permalink or "")
    open_modal(client, body, respond, lang, draft)
