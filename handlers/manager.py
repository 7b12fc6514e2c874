"""Manager actions: `/impact story`, `schedule`, `settings`, the preview buttons and Post now."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.app import Services
from bot.manager_views import (
    ACTION_CANCEL,
    ACTION_HOME_POST,
    ACTION_POST,
    ACTION_SHUFFLE,
    SCHEDULE_CALLBACK,
    SETTINGS_CALLBACK,
    preview_blocks,
    read_schedule_form,
    read_settings_form,
    schedule_lines,
    schedule_modal,
    settings_modal,
)
from bot.messages import t
from bot.posting import ChannelProblem, Poster, choose_for_channel, story_message
from bot.quicklog import parse_channel_ref, plain_text
from bot.render import query_text
from bot.slack_client import SafeRespond
from handlers.commands import MANAGER_SUBCOMMANDS
from handlers.common import (
    DB_ERRORS,
    apologise,
    field_errors,
    is_manager,
    language,
    log,
    never_raises,
    say_ephemeral,
    slack_error_text,
    team_ids,
    user_of,
    workspace,
)
from storage import channels, queries
from storage.models import utcnow


def register(app: Any, services: Services) -> None:
    def guarded(func: Any) -> Any:
        def subcommand(
            services: Services,
            body: dict[str, Any],
            respond: Any,
            client: Any,
            context: Any,
            lang: str,
            rest: str,
        ) -> None:
            manager = is_manager(services, client, context, body)
            if not manager:
                say_ephemeral(
                    respond, t("manager_only" if manager is False else "manager_check_failed", lang)
                )
                return
            func(services, body, respond, client, context, lang, rest)

        return subcommand

    MANAGER_SUBCOMMANDS.update(
        {
            "story": guarded(preview_story),
            "schedule": guarded(open_schedule),
            "settings": guarded(open_settings),
        }
    )

    def on_preview_button(
        ack: Any, body: dict[str, Any], respond: Any, client: Any, context: Any, action: dict[str, Any]
    ) -> None:
        ack()
        lang = language(services, body)
        manager = is_manager(services, client, context, body)
        if not manager:
            text = t("manager_only" if manager is False else "manager_check_failed", lang)
            respond(text=text, replace_original=False)
            return
        state = _preview_state(action.get("value"))
        if state is None:
            log.warning("bad preview state %r", action.get("value"))
            respond(text=t("listener_failed", lang), replace_original=False)
            return
        action_id = action["action_id"]
        if action_id == ACTION_CANCEL:
            respond(delete_original=True)
        elif action_id == ACTION_SHUFFLE:
            state["s"] = int(state.get("s", 0)) + 1
            show_preview(services, body, respond, context, lang, state, replace=True)
        else:
            post_from_preview(services, body, respond, context, lang, state)

    for action_id in (ACTION_POST, ACTION_SHUFFLE, ACTION_CANCEL):
        app.action(action_id)(never_raises(on_preview_button))

    def on_home_post(
        ack: Any, body: dict[str, Any], client: Any, context: Any, action: dict[str, Any]
    ) -> None:
        ack()
        lang = language(services, body)
        user = user_of(context, body)
        if user is None:
            log.warning("Post now without a valid user id")
            return
        manager = is_manager(services, client, context, body)
        if not manager:
            _dm(client, user, t("manager_only" if manager is False else "manager_check_failed", lang))
            return
        raw = action.get("value") or ""
        state = _preview_state(raw) or {"c": raw, "n": None}
        channel = state.get("c")
        if not isinstance(channel, str) or not CHANNEL_ID.match(channel):
            log.warning("Post now with a bad channel %r", channel)
            _dm(client, user, t("listener_failed", lang))
            return
        text = _post_now(services, body, context, lang, {"c": channel, "q": "", "s": 0, "n": state.get("n")})
        _dm(client, user, text)
        # A fresh Home tab carries a fresh Post now button for the next deliberate post.
        from handlers.home import publish_home

        publish_home(services, client, context, body, user)

    app.action(ACTION_HOME_POST)(never_raises(on_home_post))

    def on_schedule_submit(
        ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any, context: Any
    ) -> None:
        save_schedule(services, ack, body, view, client, context)

    def on_settings_submit(
        ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any, context: Any
    ) -> None:
        save_settings(services, ack, body, view, client, context)

    app.view(SCHEDULE_CALLBACK)(never_raises(on_schedule_submit))
    app.view(SETTINGS_CALLBACK)(never_raises(on_settings_submit))


CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,30}$")


def _preview_state(value: Any) -> dict[str, Any] | None:
    """The preview's state from a button value: channel, query, skip, nonce; None when junk."""
    try:
        state = json.loads(value or "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    channel, query, skip, nonce = state.get("c", ""), state.get("q", ""), state.get("s", 0), state.get("n")
    if not isinstance(channel, str) or not isinstance(query, str) or not isinstance(skip, int):
        return None
    if nonce is not None and not isinstance(nonce, str):
        return None
    return {"c": channel, "q": query, "s": max(0, min(skip, 10_000)), "n": nonce}


def _dm(client: Any, user: str, text: str) -> None:
    """A direct message to a user; a failure is logged (there is no other way to reach them)."""
    try:
        client.chat_postMessage(channel=user, text=text)
    except Exception as e:  # noqa: BLE001 - logged once, with the reason
        log.warning("could not send a direct message to %s: %r", user, e)


def _poster(services: Services) -> Poster:
    poster: Poster = services.extras["poster"]
    return poster


# --- /impact story ----------------------------------------------------------------------


def preview_story(
    services: Services, body: dict[str, Any], respond: Any, client: Any, context: Any, lang: str, rest: str
) -> None:
    """`/impact story [#channel] [customer or tag]`: an ephemeral preview with Post, Shuffle, Cancel."""
    words = rest.split(maxsplit=1)
    channel = body.get("channel_id", "")
    if words and parse_channel_ref(words[0]):
        channel = parse_channel_ref(words[0]) or channel
        rest = words[1] if len(words) > 1 else ""
    query = plain_text(rest)
    nonce = utcnow().isoformat()
    show_preview(services, body, respond, context, lang, {"c": channel, "q": query, "s": 0, "n": nonce})


def show_preview(
    services: Services,
    body: dict[str, Any],
    respond: Any,
    context: Any,
    lang: str,
    state: dict[str, Any],
    replace: bool = False,
) -> None:
    try:
        ws = workspace(services, context, body)
        choice = choose_for_channel(
            services.db, ws, state["c"], utcnow(), query=state.get("q", ""), skip=int(state.get("s", 0))
        )
    except DB_ERRORS:
        apologise(respond, lang)
        return
    heading = None
    if choice.story is None and state.get("q"):
        respond(text=query_text("preview.empty", lang, state["q"]), replace_original=replace)
        return
    if choice.story is None:
        heading = t("preview.invitation", lang)
    post_blocks, text = story_message(choice, lang)
    respond(
        blocks=preview_blocks(post_blocks, state["c"], lang, state, heading),
        text=text,
        replace_original=replace,
    )


def _post_now(
    services: Services, body: dict[str, Any], context: Any, lang: str, state: dict[str, Any]
) -> str:
    """Post from a preview or Home, once per nonce; returns what to tell the manager."""
    team, _ = team_ids(context, body)
    channel = state["c"]
    try:
        nonce = datetime.fromisoformat(state["n"]) if state.get("n") else None
    except ValueError:
        nonce = None
    if nonce is not None and nonce.tzinfo is None:
        nonce = nonce.replace(tzinfo=UTC)
    try:
        ws = workspace(services, context, body)
        outcome = _poster(services).post_story_now(
            team,
            ws,
            channel,
            query=state.get("q", ""),
            skip=int(state.get("s", 0)),
            nonce=nonce,
            lang=lang,
        )
    except ChannelProblem as e:
        return (
            t(f"slack_error.{e.error}", lang)
            if e.error in ("not_in_channel", "channel_not_found")
            else t("slack_error.other", lang, error=e.error)
        )
    except DB_ERRORS:
        return t("db_unavailable_short", lang)
    except SlackApiError as e:
        if e.response.status_code == 200:
            return slack_error_text(e, lang)
        log.warning("post in %s failed for team %s: %r", channel, team, e)
        return t("post.failed", lang, channel=channel)
    except Exception as e:  # noqa: BLE001 - Slack unreachable: nothing reached it
        log.warning("post in %s failed for team %s: %r", channel, team, e)
        return t("post.failed", lang, channel=channel)
    if outcome.status == "already":
        return t("already_posted", lang)
    if outcome.status == "uncertain":
        return t("post.uncertain", lang, channel=channel)
    if outcome.status == "found":
        return t("post.found", lang, channel=channel, permalink=outcome.permalink)
    return t("posted", lang, channel=channel, permalink=outcome.permalink)


def post_from_preview(
    services: Services, body: dict[str, Any], respond: Any, context: Any, lang: str, state: dict[str, Any]
) -> None:
    text = _post_now(services, body, context, lang, state)
    respond(text=text, replace_original=True)


# --- /impact schedule -------------------------------------------------------------------


def open_schedule(
    services: Services, body: dict[str, Any], respond: Any, client: Any, context: Any, lang: str, rest: str
) -> None:
    channel = body.get("channel_id", "")
    try:
        ws = workspace(services, context, body)
        if rest.strip().lower() == "off":
            with services.db.session() as session:
                removed = channels.remove_channel_schedules(session, ws, channel)
            say_ephemeral(respond, t("schedule.removed" if removed else "schedule.none", lang))
            return
        with services.db.session() as session:
            current = {
                s.spec.kind: s.spec for s in channels.list_schedules(session, ws) if s.channel_id == channel
            }
            row = channels.channel_settings(session, ws, channel)
            skip = list(row.skip_dates or []) if row else []
            tags = tuple(row.tags or ()) if row else ()
            chan_lang = row.language if row else None
    except DB_ERRORS:
        apologise(respond, lang)
        return
    view = schedule_modal(
        channel,
        lang,
        services.settings.timezone,
        current,
        skip,
        tags,
        chan_lang,
        response_url=body.get("response_url", ""),
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except Exception as e:  # noqa: BLE001 - Slack errors, timeouts and dropped connections alike
        log.warning("views.open failed for team %s: %r", body.get("team_id") or "", e)
        say_ephemeral(respond, slack_error_text(e, lang))


def save_schedule(
    services: Services, ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any, context: Any
) -> None:
    lang = language(services, body)
    manager = is_manager(services, client, context, body, before_ack=True)
    if not manager:
        message = t("manager_only" if manager is False else "manager_check_failed", lang)
        ack(response_action="errors", errors={"story_days": message})
        return
    form, errors = read_schedule_form(view)
    if form is None:
        ack(response_action="errors", errors=field_errors(errors, lang))
        return
    meta = _metadata(view)
    channel = meta.get("channel")
    user = user_of(context, body)
    if not isinstance(channel, str) or not CHANNEL_ID.match(channel) or user is None:
        log.warning("schedule submission with bad metadata %r", view.get("private_metadata"))
        ack(response_action="errors", errors={"story_days": t("listener_failed", lang)})
        return
    try:
        ws = workspace(services, context, body)
        with services.db.session() as session:
            channels.set_channel_schedules(
                session,
                ws,
                channel,
                form.specs,
                tags=form.tags,
                language=form.language,
                skip_dates=form.skip_dates,
                created_by=user,
            )
    except DB_ERRORS:
        ack(response_action="errors", errors={"timezone": t("db_unavailable_short", lang)})
        return
    ack()
    scheduler = services.extras.get("scheduler")
    if scheduler is not None:
        scheduler.sync_soon()
    text = t("schedule.saved", lang, lines=schedule_lines(form.specs, form.skip_dates, utcnow(), lang))
    response_url = meta.get("response_url")
    if isinstance(response_url, str) and response_url.startswith(("https://", "http://")):
        SafeRespond(response_url=response_url)(text=text, response_type="ephemeral", replace_original=False)
    else:
        _dm(client, user, text)


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except (TypeError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


# --- /impact settings -------------------------------------------------------------------


def open_settings(
    services: Services, body: dict[str, Any], respond: Any, client: Any, context: Any, lang: str, rest: str
) -> None:
    try:
        ws = workspace(services, context, body)
        with services.db.session() as session:
            prompts = channels.custom_prompts(session, ws)
            ws_lang = queries.workspace_language(session, ws)
    except DB_ERRORS:
        apologise(respond, lang)
        return
    try:
        client.views_open(trigger_id=body["trigger_id"], view=settings_modal(lang, prompts, ws_lang))
    except Exception as e:  # noqa: BLE001 - Slack errors, timeouts and dropped connections alike
        log.warning("views.open failed for team %s: %r", body.get("team_id") or "", e)
        say_ephemeral(respond, slack_error_text(e, lang))


def save_settings(
    services: Services, ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any, context: Any
) -> None:
    lang = language(services, body)
    manager = is_manager(services, client, context, body, before_ack=True)
    user = user_of(context, body)
    if not manager or user is None:
        message = t("manager_only" if manager is False else "manager_check_failed", lang)
        ack(response_action="errors", errors={"prompts": message})
        return
    prompts, ws_lang, errors = read_settings_form(view)
    if errors:
        ack(response_action="errors", errors=field_errors(errors, lang))
        return
    try:
        ws = workspace(services, context, body)
        with services.db.session() as session:
            channels.set_custom_prompts(session, ws, prompts, user)
            queries.set_workspace_language(session, ws, ws_lang)
    except DB_ERRORS:
        ack(response_action="errors", errors={"prompts": t("db_unavailable_short", lang)})
        return
    ack()
    _dm(client, user, t("settings.saved", lang, count=len(prompts)))
