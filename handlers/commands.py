"""`/impact`: quick log, the modal, help, list, search; manager subcommands dispatch onward."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.app import Services
from bot.messages import t
from bot.modal import story_modal
from bot.quicklog import parse_quick_log, plain_text, split_command
from bot.render import confirmation_blocks, list_blocks, query_text, text_blocks
from domain.story import LIMITS, Draft, validate
from handlers.common import (
    DB_ERRORS,
    apologise,
    language,
    log,
    never_raises,
    say_ephemeral,
    slack_error_text,
    team_ids,
    tell_failure,
    user_of,
)
from storage import queries

# Manager subcommands register themselves here (see handlers.manager).
MANAGER_SUBCOMMANDS: dict[str, Callable[..., None]] = {}


def register(app: Any, services: Services) -> None:
    def impact(ack: Any, body: dict[str, Any], respond: Any, client: Any, context: Any) -> None:
        handle_impact(services, ack, body, respond, client, context)

    app.command("/impact")(never_raises(impact))


def handle_impact(
    services: Services, ack: Any, body: dict[str, Any], respond: Any, client: Any, context: Any
) -> None:
    """Route `/impact TEXT` by its first word; anything else is a quick log."""
    lang = language(services, body)
    text = body.get("text") or ""
    sub, rest = split_command(text)
    if sub == "help":
        ack(blocks=text_blocks(t("help", lang), t("help.manager", lang)), text=t("help", lang))
        return
    ack()
    if sub == "":
        if not rest:
            open_modal(client, body, respond, lang, Draft())
        else:
            quick_log(services, body, respond, client, context, lang, rest)
    elif sub in ("list", "mine"):
        show_list(services, body, respond, context, lang)
    elif sub == "search":
        show_search(services, body, respond, context, lang, rest)
    elif sub in MANAGER_SUBCOMMANDS:
        MANAGER_SUBCOMMANDS[sub](services, body, respond, client, context, lang, rest)
    else:
        say_ephemeral(respond, t("help", lang))


def open_modal(
    client: Any,
    body: dict[str, Any],
    respond: Any,
    lang: str,
    draft: Draft,
    *,
    story_id: int | None = None,
) -> None:
    """Open the story modal prefilled with `draft`; on failure tell the user why."""
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    # The response_url lets the confirmation reach the user even where the bot is no member.
    view = story_modal(
        draft,
        lang,
        story_id=story_id,
        channel=channel,
        response_url=body.get("response_url") or "",
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except Exception as e:  # noqa: BLE001 - Slack errors, timeouts, dropped connections alike
        # views.open is never retried (a trigger is single-use): say so and keep the text.
        log.warning("views.open failed for team %s: %r", body.get("team_id") or "", e)
        tell_failure(respond, slack_error_text(e, lang), draft.quote)


def quick_log(
    services: Services,
    body: dict[str, Any],
    respond: Any,
    client: Any,
    context: Any,
    lang: str,
    text: str,
) -> None:
    """`/impact Acme: what they said` stores the story and shows it with Edit and Delete."""
    parsed = parse_quick_log(text)
    draft = Draft(customer=parsed.customer, quote=parsed.quote, credited=parsed.credited).cleaned()
    if not draft.customer:
        # Nothing the user typed is lost: the modal opens with it.
        open_modal(client, body, respond, lang, draft)
        return
    errors = validate(draft)
    if "quote" in errors and errors["quote"][0] == "error.too_long":
        message = t("too_long", lang, length=len(draft.quote), limit=LIMITS["quote"])
        tell_failure(respond, message, parsed.quote)
        return
    if errors:
        open_modal(client, body, respond, lang, draft)
        return
    team, enterprise = team_ids(context, body)
    author = user_of(context, body)
    if author is None:
        log.warning("quick log without a valid user id from team %s", team)
        tell_failure(respond, t("listener_failed", lang), plain_text(text))
        return
    try:
        with services.db.session() as session:
            ws = queries.workspace_id(session, team, enterprise)
            story = queries.add_story(
                session, ws, draft, author=author, channel=str(body.get("channel_id") or "")
            )
    except DB_ERRORS as e:
        log.error("could not save a quick log: %r", e)
        apologise(respond, lang, plain_text(text))
        return
    respond(blocks=confirmation_blocks(story, lang), text=t("saved", lang))


def show_list(services: Services, body: dict[str, Any], respond: Any, context: Any, lang: str) -> None:
    team, enterprise = team_ids(context, body)
    try:
        with services.db.session() as session:
            ws = queries.workspace_id(session, team, enterprise)
            stories = queries.stories_by_author(session, ws, str(user_of(context, body)), limit=10)
    except DB_ERRORS:
        apologise(respond, lang)
        return
    if not stories:
        say_ephemeral(respond, t("list.empty", lang))
        return
    respond(blocks=list_blocks(stories, t("list.title", lang), lang), text=t("list.title", lang))


def show_search(
    services: Services, body: dict[str, Any], respond: Any, context: Any, lang: str, query: str
) -> None:
    words = [w for w in plain_text(query).split() if w]
    if not words:
        say_ephemeral(respond, t("search.usage", lang))
        return
    team, enterprise = team_ids(context, body)
    try:
        with services.db.session() as session:
            ws = queries.workspace_id(session, team, enterprise)
            stories = queries.search_stories(session, ws, words, limit=10)
    except DB_ERRORS:
        apologise(respond, lang)
        return
    query = " ".join(words)
    if not stories:
        say_ephemeral(respond, query_text("search.empty", lang, query))
        return
    title = query_text("search.title", lang, query)
    respond(blocks=list_blocks(stories, title, lang), text=title)
