"""App Home: publish the Home tab whenever a user opens it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.home_view import COMPLAINT_LIMIT, RECENT_LIMIT, ManagerHome, home_view, unavailable_view
from bot.services import Services
from domain.insights import Insights
from domain.viewer import Viewer
from handlers.common import DB_ERRORS, is_manager, log, never_raises
from handlers.context import Request, request_of
from handlers.insights import workspace_insights
from storage import channels
from storage import complaints as complaint_store
from storage import home as hq
from storage.models import utcnow


def register(app: App, services: Services) -> None:
    """Listen to users opening their Home tab."""

    def on_app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str) or not user:
            return  # the Messages and About tabs need nothing from us
        publish_home(services, client, replace(request_of(context), user_id=user))

    app.event("app_home_opened")(never_raises(on_app_home_opened))


def publish_home(services: Services, client: WebClient, request: Request) -> None:
    """Build the user's Home tab from the database and publish it with views.publish."""
    user = request.user_id
    if user is None:
        return
    # The user's Slack locale, else the workspace's language, else IMPACT_LANGUAGE.
    lang = request.language
    # Ask Slack (cached) before opening a session, so no transaction waits on the network.
    # Slack unable to say (None) shows the Home tab every user sees.
    manager = bool(is_manager(services, client, request))
    try:
        ws = request.workspace_id()
        with services.db.session() as session:
            mine = hq.author_impact(session, ws, user)
            # Complaints go to improvement, not to everyone's list of voices (PRODUCT.md).
            recent = hq.recent_stories(session, ws, RECENT_LIMIT, exclude_kinds=("complaint",))
            extra = None
            figures: Insights | None = None
            if manager:
                # Open or owned, not resolved; imported complaints too (they are never posted).
                count = complaint_store.count_open(session, ws)
                complaints = [
                    c.story
                    for c in complaint_store.open_complaints(
                        session, ws, limit=COMPLAINT_LIMIT, newest_first=True
                    )
                ]
                extra = ManagerHome(channels.list_schedules(session, ws), count, complaints)
                figures = workspace_insights(session, ws, services.settings.timezone, utcnow())
        view = home_view(
            lang, mine, recent, utcnow(), extra, viewer=Viewer(user, is_manager=manager), insights=figures
        )
    except DB_ERRORS as e:
        log.error("could not build the Home tab for %s: %r", user, e)
        view = unavailable_view(lang)
    try:
        client.views_publish(user_id=user, view=view)
    except SlackApiError as e:
        log.warning("views.publish failed for %s: %s", user, e.response.get("error"))
    except Exception as e:  # noqa: BLE001 - the Home tab shows its old state; the next open retries
        log.warning("views.publish failed for %s: %r", user, e)
