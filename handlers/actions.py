"""Buttons: Edit and Delete on confirmations and lists, for the author and managers only."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.messages import t
from bot.render import ACTION_DELETE, ACTION_EDIT, notification_text
from bot.services import Services
from domain.story import Story
from domain.viewer import Viewer
from handlers.common import DB_ERRORS, apologise, is_manager, never_raises
from handlers.context import Request, request_of
from handlers.modals import open_modal
from storage import queries


def register(app: App, services: Services) -> None:
    """Listen to the Edit and Delete buttons."""

    def edit(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        edit_story(services, body, respond, client, request_of(context))

    def delete(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        delete_story(services, body, respond, client, request_of(context))

    app.action(ACTION_EDIT)(never_raises(edit))
    app.action(ACTION_DELETE)(never_raises(delete))


def _story_id(body: dict[str, Any]) -> int | None:
    try:
        return int(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _changeable_story(
    services: Services, body: dict[str, Any], respond: Respond, client: WebClient, request: Request
) -> tuple[int, Story] | None:
    """(workspace, story) when the clicker may change it; otherwise say why and return None.

    The manager check asks Slack, so it runs after the read transaction has ended.
    """
    lang = request.language
    story_id = _story_id(body)
    try:
        ws = request.workspace_id()
        with services.db.session() as session:
            story = queries.get_story(session, ws, story_id) if story_id else None
    except DB_ERRORS:
        apologise(respond, lang)
        return None
    if story is None:
        respond(text=t("not_found", lang), replace_original=False)
        return None
    # The same rule that decides where the buttons are shown (Viewer.may_change): the author
    # without asking Slack, anyone else only when Slack confirms manager rights.
    may = True if Viewer(request.user_id).may_change(story) else is_manager(services, client, request)
    if may is None:
        respond(text=t("manager_check_failed", lang), replace_original=False)
        return None
    if not may:
        respond(text=t("not_yours", lang), replace_original=False)
        return None
    return ws, story


def edit_story(
    services: Services, body: dict[str, Any], respond: Respond, client: WebClient, request: Request
) -> None:
    """Open the modal on the stored story."""
    found = _changeable_story(services, body, respond, client, request)
    if found is not None:
        open_modal(client, body, respond, request.language, found[1].draft, story_id=found[1].id)


def delete_story(
    services: Services, body: dict[str, Any], respond: Respond, client: WebClient, request: Request
) -> None:
    """Delete after Slack's confirm dialog; the confirmation message is replaced."""
    lang = request.language
    found = _changeable_story(services, body, respond, client, request)
    if found is None:
        return
    ws, story = found
    try:
        with services.db.session() as session:
            deleted = queries.delete_story(session, ws, story.id)
    except DB_ERRORS:
        apologise(respond, lang)
        return
    if deleted is None:
        respond(text=t("not_found", lang), replace_original=False)
        return
    respond(text=t("deleted", lang, customer=notification_text(story.customer, 200)), replace_original=True)
