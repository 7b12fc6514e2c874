"""The complaint message's buttons (I'll own this, Resolved) and the "What did we change?" modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.complaints import (
    ACTION_OWN,
    ACTION_RESOLVE,
    RESOLVE_CALLBACK,
    read_change,
    refresh_post,
    resolve_metadata,
    resolve_modal,
    tell_resolved,
)
from bot.messages import t
from bot.render import escape, format_date, mention
from bot.services import Services
from domain.complaint import RESOLVED, Complaint, change_errors
from handlers.common import DB_ERRORS, apologise, field_errors, log, never_raises, slack_error_text
from handlers.context import Request, request_of
from storage import complaints as store


def register(app: App, services: Services) -> None:
    """Listen to the complaint buttons and the resolve modal."""

    def own(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        take_ownership(services, body, respond, client, request_of(context))

    def resolve(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        open_resolve(services, body, respond, client, request_of(context))

    def resolved(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        save_resolution(services, ack, view, client, request_of(context))

    app.action(ACTION_OWN)(never_raises(own))
    app.action(ACTION_RESOLVE)(never_raises(resolve))
    app.view(RESOLVE_CALLBACK)(never_raises(resolved))


def _story_id(body: dict[str, Any]) -> int | None:
    try:
        value = int(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return value if value > 0 else None


def _tell(respond: Respond, text: str) -> None:
    """An ephemeral note to whoever clicked; the channel message stays as it is."""
    respond(text=text, response_type="ephemeral", replace_original=False)


def _who(user: str) -> str:
    return mention(user) or escape(user)


def why_not(complaint: Complaint, user: str, lang: str) -> str:
    """Why a click changed nothing: someone owns it (who, since when), or it is resolved."""
    if complaint.state == RESOLVED:
        return t(
            "complaint.already_resolved",
            lang,
            resolver=_who(complaint.resolved_by),
            date=format_date(complaint.resolved_at, lang),
        )
    if complaint.owner == user:
        return t("complaint.owned_by_you", lang)
    return t(
        "complaint.owned_by_other",
        lang,
        owner=_who(complaint.owner),
        date=format_date(complaint.owned_at, lang),
    )


def take_ownership(
    services: Services, body: dict[str, Any], respond: Respond, client: WebClient, request: Request
) -> None:
    """I'll own this: the first click records the owner and the message shows them; a later
    click is told, ephemerally, who owns it."""
    lang, user = request.language, request.user_id
    story_id = _story_id(body)
    if story_id is None or user is None:
        _tell(respond, t("complaint.gone", lang))
        return
    try:
        ws = request.workspace_id()
        with services.db.session() as session:
            step = store.take_ownership(session, ws, story_id, user)
    except DB_ERRORS:
        apologise(respond, lang)
        return
    if step.complaint is None:
        _tell(respond, t("complaint.gone", lang))
        return
    if not step.done:
        _tell(respond, why_not(step.complaint, user, lang))
        return
    refresh_post(services, client, ws, story_id)


def open_resolve(
    services: Services, body: dict[str, Any], respond: Respond, client: WebClient, request: Request
) -> None:
    """Resolved: open "What did we change?" (unless someone resolved it already)."""
    lang, user = request.language, request.user_id
    story_id = _story_id(body)
    if story_id is None or user is None:
        _tell(respond, t("complaint.gone", lang))
        return
    try:
        ws = request.workspace_id()
        with services.db.session() as session:
            found = store.get_complaint(session, ws, story_id)
    except DB_ERRORS:
        apologise(respond, lang)
        return
    if found is None:
        _tell(respond, t("complaint.gone", lang))
        return
    story, complaint = found
    if complaint.state == RESOLVED:
        _tell(respond, why_not(complaint, user, lang))
        return
    try:
        client.views_open(trigger_id=body["trigger_id"], view=resolve_modal(story, lang))
    except Exception as e:  # noqa: BLE001 - Slack errors, timeouts and dropped connections alike
        log.warning("views.open (resolve) failed for team %s: %r", request.team_id, e)
        _tell(respond, slack_error_text(e, lang))


def save_resolution(
    services: Services, ack: Ack, view: dict[str, Any], client: WebClient, request: Request
) -> None:
    """Store what changed and who resolved it (before the ack, so a failure keeps the modal and
    its text), then update the channel message and tell the author and credited colleagues."""
    lang, user = request.language, request.user_id
    change = read_change(view)
    errors = change_errors(change)
    if errors:
        ack(response_action="errors", errors=field_errors(errors, lang))
        return
    story_id = resolve_metadata(view)
    if story_id is None or user is None:
        log.warning("resolve submission with bad metadata %r", view.get("private_metadata"))
        ack(response_action="errors", errors={"change": t("listener_failed", lang)})
        return
    try:
        ws = request.workspace_id()
        with services.db.session() as session:
            step = store.resolve(session, ws, story_id, user, change)
    except DB_ERRORS as e:
        log.error("could not resolve complaint %s for team %s: %r", story_id, request.team_id, e)
        ack(response_action="errors", errors={"change": t("db_unavailable_short", lang)})
        return
    if step.complaint is None or step.story is None:
        ack(response_action="errors", errors={"change": t("complaint.gone", lang)})
        return
    if not step.done:
        ack(response_action="errors", errors={"change": t("complaint.already_resolved_inline", lang)})
        return
    ack()
    # Only the request that resolved it gets here, so the message is updated and the DMs go once.
    refresh_post(services, client, ws, story_id)
    tell_resolved(services, client, ws, step.story, step.complaint, request.team_id)
