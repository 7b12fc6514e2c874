"""The message shortcut "Save as customer voice": the modal, prefilled with the message."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.quicklog import plain_text
from bot.services import Services
from domain.story import Draft
from handlers.common import log, never_raises
from handlers.context import request_of
from handlers.modals import open_modal

CALLBACK_ID = "save_customer_voice"


def register(app: App, services: Services) -> None:
    """Listen to the message shortcut."""

    def save_message(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        open_from_message(body, respond, client, request_of(context).language)

    app.message_shortcut(CALLBACK_ID)(never_raises(save_message))


def open_from_message(body: dict[str, Any], respond: Respond, client: WebClient, lang: str) -> None:
    """Prefill the quote with the message text and the source with its permalink."""
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id", "")
    permalink = ""
    try:
        permalink = str(
            client.chat_getPermalink(channel=channel, message_ts=str(message.get("ts") or ""))["permalink"]
        )
    except Exception as e:  # noqa: BLE001 - the permalink is a nicety; the text is what matters
        log.info("no permalink for %s: %r", channel, e)
    draft = Draft(quote=plain_text(message.get("text") or ""), source=permalink)
    open_modal(client, body, respond, lang, draft)
