"""`/impact schedule` and `/impact settings`: their modals and what saving them does."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.complaints import post_waiting
from bot.manager_views import (
    SCHEDULE_CALLBACK,
    SETTINGS_CALLBACK,
    read_improvement_channel,
    read_schedule_form,
    read_settings_form,
    schedule_lines,
    schedule_modal,
    settings_modal,
)
from bot.messages import t
from bot.services import Services
from bot.slack_client import SafeRespond
from handlers.common import (
    DB_ERRORS,
    apologise,
    direct_message,
    field_errors,
    is_manager,
    log,
    never_raises,
    refusal,
    say_ephemeral,
    slack_error_text,
)
from handlers.context import Invocation, request_of
from handlers.preview import CHANNEL_ID
from storage import channels, queries
from storage import complaints as complaint_store
from storage.models import utcnow


def register(app: App, services: Services) -> None:
    """Listen to the schedule and settings modals' submissions."""

    def on_schedule_submit(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        save_schedule(services, ack, view, client, context)

    def on_settings_submit(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        save_settings(services, ack, view, client, context)

    app.view(SCHEDULE_CALLBACK)(never_raises(on_schedule_submit))
    app.view(SETTINGS_CALLBACK)(never_raises(on_settings_submit))


def open_schedule(inv: Invocation) -> None:
    """`/impact schedule` opens the channel's schedule modal; `schedule off` removes its schedules."""
    lang, respond = inv.request.language, inv.respond
    channel = str(inv.body.get("channel_id") or "")
    try:
        ws = inv.request.workspace_id()
        if inv.rest.strip().lower() == "off":
            with inv.services.db.session() as session:
                removed = channels.remove_channel_schedules(session, ws, channel)
            if removed and inv.services.scheduler is not None:
                inv.services.scheduler.sync_soon()
            say_ephemeral(respond, t("schedule.removed" if removed else "schedule.none", lang))
            return
        with inv.services.db.session() as session:
            current = {
                s.spec.kind: s.spec for s in channels.list_schedules(session, ws) if s.channel_id == channel
            }
            found = channels.channel_settings(session, ws, channel)
    except DB_ERRORS:
        apologise(respond, lang)
        return
    view = schedule_modal(
        channel,
        lang,
        inv.services.settings.timezone,
        current,
        list(found.skip_dates) if found else [],
        found.tags if found else (),
        found.language if found else None,
        response_url=str(inv.body.get("response_url") or ""),
    )
    try:
        inv.client.views_open(trigger_id=inv.body["trigger_id"], view=view)
    except Exception as e:  # noqa: BLE001 - Slack errors, timeouts and dropped connections alike
        log.warning("views.open failed for team %s: %r", inv.request.team_id, e)
        say_ephemeral(respond, slack_error_text(e, lang))


def save_schedule(
    services: Services, ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Validate and store the schedules; this process's scheduler picks them up at once."""
    request = request_of(context)
    lang = request.language
    manager = is_manager(services, client, request, before_ack=True)
    if not manager:
        ack(response_action="errors", errors={"story_days": refusal(manager, lang)})
        return
    form, errors = read_schedule_form(view)
    if form is None:
        ack(response_action="errors", errors=field_errors(errors, lang))
        return
    meta = metadata(view)
    channel = meta.get("channel")
    user = request.user_id
    if not isinstance(channel, str) or not CHANNEL_ID.match(channel) or user is None:
        log.warning("schedule submission with bad metadata %r", view.get("private_metadata"))
        ack(response_action="errors", errors={"story_days": t("listener_failed", lang)})
        return
    try:
        ws = request.workspace_id()
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
    if services.scheduler is not None:
        services.scheduler.sync_soon()
    text = t("schedule.saved", lang, lines=schedule_lines(form.specs, form.skip_dates, utcnow(), lang))
    response_url = meta.get("response_url")
    if isinstance(response_url, str) and response_url.startswith(("https://", "http://")):
        respond = SafeRespond(response_url=response_url, pool=services.response_urls)
        respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        direct_message(client, user, text)


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The modal's private metadata as a dict; {} when it is junk."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except (TypeError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def open_settings(inv: Invocation) -> None:
    """`/impact settings`: the improvement channel, the workspace's custom prompts and language."""
    lang = inv.request.language
    try:
        ws = inv.request.workspace_id()
        with inv.services.db.session() as session:
            prompts = channels.custom_prompts(session, ws)
            ws_lang = queries.workspace_language(session, ws)
            improvement = complaint_store.improvement_channel(session, ws)
    except DB_ERRORS:
        apologise(inv.respond, lang)
        return
    view = settings_modal(lang, prompts, ws_lang, improvement)
    try:
        inv.client.views_open(trigger_id=inv.body["trigger_id"], view=view)
    except Exception as e:  # noqa: BLE001 - Slack errors, timeouts and dropped connections alike
        log.warning("views.open failed for team %s: %r", inv.request.team_id, e)
        say_ephemeral(inv.respond, slack_error_text(e, lang))


def save_settings(
    services: Services, ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Store the improvement channel, the custom prompts and the workspace language; managers
    only. Then post, once each, the complaints that were waiting for an improvement channel."""
    request = request_of(context)
    lang, user = request.language, request.user_id
    manager = is_manager(services, client, request, before_ack=True)
    if not manager or user is None:
        ack(response_action="errors", errors={"prompts": refusal(manager, lang)})
        return
    prompts, ws_lang, errors = read_settings_form(view)
    improvement, channel_errors = read_improvement_channel(view)
    errors = {**channel_errors, **errors}
    if errors:
        ack(response_action="errors", errors=field_errors(errors, lang))
        return
    try:
        ws = request.workspace_id()
        with services.db.session() as session:
            channels.set_custom_prompts(session, ws, prompts, user)
            queries.set_workspace_language(session, ws, ws_lang)
            complaint_store.set_improvement_channel(session, ws, improvement)
            waiting = complaint_store.count_unposted(session, ws) if improvement else 0
    except DB_ERRORS:
        ack(response_action="errors", errors={"prompts": t("db_unavailable_short", lang)})
        return
    ack()
    said = [t("settings.saved", lang, count=len(prompts))]
    if improvement:
        said.append(t("settings.improvement_saved", lang, channel=improvement))
    if waiting:
        said.append(t("settings.complaints_waiting", lang, count=waiting))
    direct_message(client, user, " ".join(said))
    if improvement and waiting:
        post_waiting_complaints(services, client, ws, improvement, user, lang)


def post_waiting_complaints(
    services: Services, client: WebClient, ws: int, channel: str, manager: str, lang: str
) -> None:
    """Post the complaints waiting for the improvement channel; when Slack refuses the channel,
    tell the manager who set it (and remember it, so other managers are not told again)."""
    report = post_waiting(services, client, ws, channel)
    if report.problem is None:
        return
    with services.db.session() as session:
        channels.note_channel_error(session, ws, channel, report.problem)
    text = t("settings.complaints_refused", lang, channel=channel, error=report.problem)
    direct_message(client, manager, text)
