"""Catch-alls, registered last: unknown ids are logged and acked, never a crash or a 404."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.services import Services
from handlers.common import log, never_raises

ANY = re.compile(".*")


def register(app: App, services: Services) -> None:
    """Register the catch-alls; call last, since Bolt runs the first listener that matches."""

    def unknown_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        ids = [a.get("action_id") for a in body.get("actions") or []]
        log.warning("no handler for action_id %s", ids)

    def unknown_view(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        log.warning("no handler for view callback_id %r", (body.get("view") or {}).get("callback_id"))

    def unknown_shortcut(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        log.warning("no handler for shortcut callback_id %r", body.get("callback_id"))

    def unknown_event(body: dict[str, Any]) -> None:
        # Bolt has already answered 200: Slack retries anything else and may turn events off.
        event = body.get("event")
        log.info("event %r not acted on", event.get("type") if isinstance(event, dict) else None)

    app.event(ANY)(never_raises(unknown_event))
    app.action(ANY)(never_raises(unknown_action))
    app.view(ANY)(never_raises(unknown_view))

    def view_closed(ack: Ack) -> None:
        ack()

    app.view_closed(ANY)(never_raises(view_closed))
    app.shortcut(ANY)(never_raises(unknown_shortcut))
