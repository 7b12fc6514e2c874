"""Modal submissions: the story modal saves or updates a story, with inline field errors."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.complaints import complaint_saved
from bot.messages import t
from bot.modal import CALLBACK_ID, read_metadata, read_submission
from bot.render import confirmation_blocks
from bot.services import Services
from bot.slack_client import SafeRespond
from domain.story import Story, validate
from handlers.common import DB_ERRORS, field_errors, is_manager, log, never_raises
from handlers.context import request_of
from storage import queries


def register(app: App, services: Services) -> None:
    """Listen to the story modal's submission."""

    def story_submitted(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        save_from_modal(services, ack, view, client, context)

    app.view(CALLBACK_ID)(never_raises(story_submitted))


def save_from_modal(
    services: Services, ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Validate, then store before acking, so a failure keeps the modal open with its text."""
    request = request_of(context)
    lang, user = request.language, request.user_id
    draft = read_submission(view)
    errors = validate(draft)
    if errors:
        ack(response_action="errors", errors=field_errors(errors, lang))
        return
    meta = read_metadata(view)
    if user is None:
        ack(response_action="errors", errors={"customer": t("listener_failed", lang)})
        return
    story_id = _int_or_none(meta.get("story_id"))
    story: Story | None
    try:
        ws = request.workspace_id()
        with services.db.session() as session:
            existing = queries.get_story(session, ws, story_id) if story_id else None
        if story_id and existing is None:
            ack(response_action="errors", errors={"customer": t("not_found", lang)})
            return
        if existing and existing.author != user:
            # Only a manager may change someone else's story. Asked outside any transaction,
            # with one short call: the answer must come inside Slack's 3 seconds.
            manager = is_manager(services, client, request, before_ack=True)
            if manager is None:
                ack(response_action="errors", errors={"customer": t("manager_check_failed", lang)})
                return
            if not manager:
                ack(response_action="errors", errors={"customer": t("not_yours", lang)})
                return
        with services.db.session() as session:
            if existing:
                story = queries.update_story(session, ws, existing.id, draft)
            else:
                story = queries.add_story(
                    session, ws, draft, author=user, channel=str(meta.get("channel") or "")
                )
    except DB_ERRORS as e:
        log.error("could not save a modal submission for team %s: %r", request.team_id, e)
        ack(response_action="errors", errors={"quote": t("db_unavailable_short", lang)})
        return
    ack()
    if story is None:
        return
    confirm(services, client, user, meta, story, lang, "updated" if story_id else "saved")
    # After the confirmation: a complaint goes to the improvement channel (never raises).
    complaint_saved(services, client, request.team_id, ws, story)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def confirm(
    services: Services,
    client: WebClient,
    user: str,
    meta: dict[str, Any],
    story: Story,
    lang: str,
    message_id: str,
) -> None:
    """Show the saved story to its author: via response_url, else ephemeral, else a DM.

    A fallback is taken only when the previous way provably did not show it (Slack refused);
    after a lost answer nothing is resent, so the confirmation is never doubled.
    """
    blocks = confirmation_blocks(story, lang, message_id)
    text = t(message_id, lang)
    response_url = meta.get("response_url")
    if isinstance(response_url, str) and response_url.startswith(("https://", "http://")):
        respond = SafeRespond(response_url=response_url, pool=services.response_urls)
        sent = respond(text=text, blocks=blocks, replace_original=False)
        if sent.status_code == 200:
            return
        if sent.status_code == 0 or sent.status_code >= 500:
            log.warning(
                "confirmation through response_url is uncertain (%s); not resending", sent.status_code
            )
            return
        log.warning("response_url answered %s; falling back", sent.status_code)
    channel = meta.get("channel")
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
            return
    except SlackApiError as e:
        if e.response.status_code != 200:
            log.warning("ephemeral confirmation uncertain (HTTP %s); not resending", e.response.status_code)
            return
        log.info("ephemeral confirmation failed (%s); sending a DM", e.response.get("error"))
    except Exception as e:  # noqa: BLE001 - the answer was lost: it may have been shown
        log.warning("ephemeral confirmation uncertain (%r); not resending", e)
        return
    try:
        client.chat_postMessage(channel=user, text=text, blocks=blocks)
    except Exception as e:  # noqa: BLE001 - the story is saved; only the confirmation is missing
        log.warning("could not confirm a saved story to %s: %r", user, e)
