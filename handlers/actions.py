"""Buttons: Edit and Delete on confirmations and lists; unknown actions are logged, not fatal."""

from __future__ import annotations

from typing import Any

from bot.app import Services
from bot.messages import t
from bot.render import ACTION_DELETE, ACTION_EDIT, escape
from handlers.commands import open_modal
from handlers.common import DB_ERRORS, apologise, is_manager, language, team_ids
from storage import queries


def register(app: Any, services: Services) -> None:
    def edit(ack: Any, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
        ack()
        edit_story(services, body, respond, client, context)

    def delete(ack: Any, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
        ack()
        delete_story(services, body, respond, client, context)

    app.action(ACTION_EDIT)(edit)
    app.action(ACTION_DELETE)(delete)


def _story_id(body: dict[str, Any]) -> int | None:
    try:
        return int(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _may_change(
    services: Services, story_author: str, client: Any, context: Any, body: dict[str, Any]
) -> bool:
    return story_author == body["user"]["id"] or is_manager(services, client, context, body)


def edit_story(services: Services, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
    """Open the modal on the stored story."""
    lang = language(services, body)
    story_id = _story_id(body)
    team, enterprise = team_ids(context, body)
    try:
        with services.db.session() as session:
            ws = queries.workspace_id(session, team, enterprise)
            story = queries.get_story(session, ws, story_id) if story_id else None
    except DB_ERRORS:
        apologise(respond, lang)
        return
    if story is None:
        respond(text=t("not_found", lang), replace_original=False)
        return
    if not _may_change(services, story.author, client, context, body):
        respond(text=t("not_yours", lang), replace_original=False)
        return
    open_modal(client, body, respond, lang, story.draft, story_id=story.id)


def delete_story(services: Services, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
    """Delete after Slack's confirm dialog; the confirmation message is replaced."""
    lang = language(services, body)
    story_id = _story_id(body)
    team, enterprise = team_ids(context, body)
    try:
        with services.db.session() as session:
            ws = queries.workspace_id(session, team, enterprise)
            story = queries.get_story(session, ws, story_id) if story_id else None
            if story is None:
                respond(text=t("not_found", lang), replace_original=False)
                return
            if not _may_change(services, story.author, client, context, body):
                respond(text=t("not_yours", lang), replace_original=False)
                return
            queries.delete_story(session, ws, story.id)
    except DB_ERRORS:
        apologise(respond, lang)
        return
    respond(text=t("deleted", lang, customer=escape(story.customer)), replace_original=True)
