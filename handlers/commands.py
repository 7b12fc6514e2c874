"""`/impact`: one static table routes the first word; any other text is a quick log."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.complaints import complaint_saved
from bot.deadlines import Reply
from bot.messages import t
from bot.quicklog import parse_quick_log, plain_text, split_command
from bot.render import confirmation_blocks, list_blocks, query_text, text_blocks
from bot.services import Services
from domain.story import LIMITS, Draft, Story, validate
from domain.viewer import Viewer
from handlers.common import (
    DB_ERRORS,
    apologise,
    is_manager,
    log,
    never_raises,
    refusal,
    say_ephemeral,
    tell_failure,
)
from handlers.context import Invocation, request_of
from handlers.insights import show_stats
from handlers.modals import open_modal
from handlers.preview import preview_story
from handlers.references import show_references
from handlers.schedules import open_schedule, open_settings
from storage import queries


@dataclass(frozen=True)
class Subcommand:
    """What a first word of `/impact` runs, and whether only managers may run it."""

    run: Callable[[Invocation], None]
    managers_only: bool = False


def register(app: App, services: Services) -> None:
    """Listen to `/impact`."""

    def impact(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        handle_impact(services, ack, body, respond, client, context)

    app.command("/impact")(never_raises(impact))


def handle_impact(
    services: Services,
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """Route `/impact TEXT` by its first word; anything else is a quick log."""
    request = request_of(context)
    sub, rest = split_command(str(body.get("text") or ""))
    if sub == "help":
        # The help is the ack itself: the language is a cached answer or a brief wait (bot.languages).
        lang = request.language
        ack(blocks=text_blocks(t("help", lang), t("help.manager", lang)), text=t("help", lang))
        return
    if sub == "" and rest:
        # The confirmation travels in the ack when it is ready in time (bot.deadlines).
        answer = Reply(services.ack_deadlines.watch(ack), respond)
        try:
            quick_log(Invocation(services, request, body, respond, client, rest), answer)
        except Exception:
            if not answer.sent:  # whatever broke, the user keeps what they typed
                tell_failure(answer, t("listener_failed", request.language), plain_text(rest))
            raise
        return
    ack()
    # Everything else is answered after the ack, so finding the user's language holds nothing up.
    lang = request.language
    invocation = Invocation(services, request, body, respond, client, rest)
    if sub == "":
        open_modal(client, body, respond, lang, Draft())
        return
    command = SUBCOMMANDS.get(sub)
    if command is None:
        say_ephemeral(respond, t("help", lang))
        return
    if command.managers_only:
        manager = is_manager(services, client, request)
        if not manager:
            say_ephemeral(respond, refusal(manager, lang))
            return
    command.run(invocation)


def quick_log(inv: Invocation, answer: Reply) -> None:
    """`/impact Acme: what they said` stores the story and shows it with Edit and Delete, in the
    ack when the database answers in time; a modal, where one is needed, opens after the ack."""
    lang, text = inv.request.language, inv.rest
    parsed = parse_quick_log(text)
    draft = Draft(customer=parsed.customer, quote=parsed.quote, credited=parsed.credited).cleaned()
    if not draft.customer:
        # Nothing the user typed is lost: the modal opens with it.
        answer.nothing_yet()
        open_modal(inv.client, inv.body, inv.respond, lang, draft)
        return
    errors = validate(draft)
    if "quote" in errors and errors["quote"][0] == "error.too_long":
        message = t("too_long", lang, length=len(draft.quote), limit=LIMITS["quote"])
        tell_failure(answer, message, parsed.quote)
        return
    if errors:
        answer.nothing_yet()
        open_modal(inv.client, inv.body, inv.respond, lang, draft)
        return
    author = inv.request.user_id
    if author is None:
        log.warning("quick log without a valid user id from team %s", inv.request.team_id)
        tell_failure(answer, t("listener_failed", lang), plain_text(text))
        return
    try:
        story = store_quick_log(inv, draft, author)
    except DB_ERRORS as e:
        log.error("could not save a quick log for team %s: %r", inv.request.team_id, e)
        apologise(answer, lang, plain_text(text))
        return
    answer(blocks=confirmation_blocks(story, lang), text=t("saved", lang))
    # After the confirmation: a complaint goes to the improvement channel (never raises).
    complaint_saved(inv.services, inv.client, inv.request.team_id, story.workspace_id, story)


def store_quick_log(inv: Invocation, draft: Draft, author: str) -> Story:
    """Store the story with one INSERT (Database.write), in the workspace the process
    has cached for the team; when that row is no longer the team's, look it up again, once."""
    request, channel = inv.request, str(inv.body.get("channel_id") or "")
    for _ in range(2):
        ws = request.workspace_id()
        insert = functools.partial(
            queries.insert_story,
            ws=ws,
            team_id=request.team_id,
            enterprise_id=request.enterprise_id,
            draft=draft,
            author=author,
            channel=channel,
        )
        story = inv.services.db.write(insert)
        if story is not None:
            return story
        log.warning("workspace row %s of team %s is gone; looking it up again", ws, request.team_id)
        request.forget_workspace()
    raise StaleWorkspace(f"no workspace row for team {request.team_id} after looking it up again")


class StaleWorkspace(SQLAlchemyError):
    """The team's workspace row vanished twice in a row: a database being emptied under us."""


def show_list(inv: Invocation) -> None:
    """`/impact list` (or `mine`): the user's recent stories, with Edit and Delete."""
    lang = inv.request.language
    try:
        ws = inv.request.workspace_id()
        with inv.services.db.session() as session:
            stories = queries.stories_by_author(session, ws, str(inv.request.user_id), limit=10)
    except DB_ERRORS:
        apologise(inv.respond, lang)
        return
    if not stories:
        say_ephemeral(inv.respond, t("list.empty", lang))
        return
    # Only the user's own stories: they see every name and may change each one.
    viewer = Viewer(inv.request.user_id)
    title = t("list.title", lang)
    inv.respond(blocks=list_blocks(stories, title, lang, viewer), text=title)


def show_search(inv: Invocation) -> None:
    """`/impact search WORDS`: stories of this workspace containing every word, as the user may
    see them: anonymous customers are named (and found by name) only for their author and
    managers; Edit and Delete only on stories the user may change."""
    lang = inv.request.language
    words = [w for w in plain_text(inv.rest).split() if w]
    if not words:
        say_ephemeral(inv.respond, t("search.usage", lang))
        return
    # Asked before the read transaction, so no transaction waits on Slack. Slack unable to
    # say (None) counts as "not a manager": an unknown answer never reveals a name.
    viewer = Viewer(inv.request.user_id, is_manager=bool(is_manager(inv.services, inv.client, inv.request)))
    try:
        ws = inv.request.workspace_id()
        with inv.services.db.session() as session:
            stories = queries.search_stories(session, ws, words, limit=10, viewer=viewer)
    except DB_ERRORS:
        apologise(inv.respond, lang)
        return
    query = " ".join(words)
    if not stories:
        say_ephemeral(inv.respond, query_text("search.empty", lang, query))
        return
    title = query_text("search.title", lang, query)
    inv.respond(blocks=list_blocks(stories, title, lang, viewer), text=title)


# The words reserved as the first word of `/impact` (see bot.quicklog.RESERVED), and what they run.
SUBCOMMANDS: dict[str, Subcommand] = {
    "list": Subcommand(show_list),
    "mine": Subcommand(show_list),
    "search": Subcommand(show_search),
    "story": Subcommand(preview_story, managers_only=True),
    "schedule": Subcommand(open_schedule, managers_only=True),
    "settings": Subcommand(open_settings, managers_only=True),
    "stats": Subcommand(show_stats, managers_only=True),
    "references": Subcommand(show_references),
}
