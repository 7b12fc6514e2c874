"""Buttons: Edit and Delete on confirmations and lists; unknown actions are logged, not fatal."""

from __future__ import annotations

from typing import Any

from bot.app import Services
from bot.messages import t
from bot.render import ACTION_DELETE, ACTION_EDIT, notification_text
from domain.story import Story
from handlers.commands import open_modal
from handlers.common import DB_ERRORS, apologise, is_manager, language, never_raises, team_ids, user_of
from storage import queries


def register(app: Any, services: Services) -> None:
    def edit(ack: Any, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
        ack()
        edit_story(services, body, respond, client, context)

    def delete(ack: Any, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
        ack()
        delete_story(services, body, respond, client, context)

    app.action(ACTION_EDIT)(never_raises(edit))
    app.action(ACTION_DELETE)(never_raises(delete))


def _story_id(body: dict[str, Any]) -> int | None:
    try:
        return int(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _may_change(
    services: Services, story_author: str, client: Any, context: Any, body: dict[str, Any]
) -> bool | None:
    """True for the author and managers; None when Slack cannot say now."""
    if story_author == user_of(context, body):
        return True
    return is_manager(services, client, context, body)


def _changeable_story(
    services: Services, body: dict[str, Any], respond: Any, client: Any, context: Any, lang: str
) -> tuple[int, Story] | None:
    """(workspace, story) when the clicker may change it; otherwise say why and return None.

    The manager check asks Slack, so it runs after the read transaction has ended.
    """
    story_id = _story_id(body)
    team, enterprise = team_ids(context, body)
    try:
        with services.db.session() as session:
            ws = queries.workspace_id(session, team, enterprise)
            story = queries.get_story(session, ws, story_id) if story_id else None
    except DB_ERRORS:
        apologise(respond, lang)
        return None
    if story is None:
        respond(text=t("not_found", lang), replace_original=False)
        return None
    may = _may_change(services, story.author, client, context, body)
    if may is None:
        respond(text=t("manager_check_failed", lang), replace_original=False)
        return None
    if not may:
        respond(text=t("not_yours", lang), replace_original=False)
        return None
    return ws, story


def edit_story(services: Services, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
    """Open the modal on the stored story."""
    lang = language(services, body)
    found = _changeable_story(services, body, respond, client, context, lang)
    if found is not None:
        open_modal(client, body, respond, lang, found[1].draft, story_id=found[1].id)


def delete_story(services: Services, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
    """Delete after Slack's confirm dialog; the confirmation message is replaced."""
    lang = language(services, body)
    found = _changeable_story(services, body, respond, client, context, lang)
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
