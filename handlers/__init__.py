"""Slack listeners, one module per kind, registered through `register_all`.

Listeners are thin: ack first, turn the payload into plain values, call bot/, reply. What a
request is about (team, enterprise, workspace, user, language) is worked out once, by the
middleware in `handlers.context`, and read with `request_of(context)`.
"""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import (
    actions,
    commands,
    complaints,
    context,
    events,
    fallbacks,
    home,
    preview,
    schedules,
    shortcuts,
    views,
)


def register_all(app: App, services: Services) -> None:
    """Register the request middleware and every listener; the catch-alls go last."""
    app.use(context.attach_request(services))
    for module in (commands, preview, schedules, views, actions, complaints, shortcuts, events, home):
        module.register(app, services)
    # Bolt runs the first listener that matches, so the catch-alls must come last.
    fallbacks.register(app, services)
