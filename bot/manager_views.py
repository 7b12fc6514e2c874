"""Manager screens: the schedule modal, the settings modal and the story preview."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.dates import day_and_time
from bot.messages import t
from bot.render import button_text, divider, escape, section
from bot.schedule import next_run
from bot.settings import LANGUAGES
from domain.schedule import WEEKDAYS, ScheduleSpec, parse_skip_dates, parse_time, valid_timezone
from domain.story import MAX_TAGS, clean_text, split_tags

SCHEDULE_CALLBACK = "schedule_modal"
SETTINGS_CALLBACK = "settings_modal"
ACTION_POST = "preview_post"
ACTION_SHUFFLE = "preview_shuffle"
ACTION_CANCEL = "preview_cancel"
ACTION_HOME_POST = "home_post_now"
MAX_PROMPTS = 50
MAX_PROMPT_LENGTH = 300
VALUE_LIMIT = 2000  # Slack's limit for a button value
PREVIEW_POST_BLOCKS = 45  # heading, two dividers and the buttons make 49 of Slack's 50
# Public and private channels take complaints; direct messages do not.
IMPROVEMENT_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,30}$")


@dataclass(frozen=True)
class ScheduleForm:
    """What a manager submitted in the schedule modal, validated."""

    specs: list[ScheduleSpec]
    skip_dates: list[str]
    tags: tuple[str, ...]
    language: str | None


def _language_select(lang: str, current: str | None) -> InputBlock:
    """An optional language choice; empty means "the default"."""
    languages = [Option(value=code, label=t(f"language.{code}", lang)) for code in LANGUAGES]
    return InputBlock(
        block_id="language",
        label=t("schedule.language", lang),
        optional=True,
        element=StaticSelectElement(
            action_id="value",
            options=languages,
            initial_option=next((o for o in languages if o.value == current), None),
        ),
    )


def _title(text: str, limit: int = 24) -> str:
    """A modal title within Slack's 24 characters, cut at a word rather than mid-word."""
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _days(block_id: str, label: str, lang: str, initial: tuple[str, ...]) -> InputBlock:
    options = [Option(value=d, label=t(f"day.{d}", lang)) for d in WEEKDAYS]
    chosen = [o for o in options if o.value in initial]
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        element=CheckboxesElement(action_id="value", options=options, initial_options=chosen or None),
    )


def _text(
    block_id: str, label: str, initial: str, optional: bool = True, multiline: bool = False
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        element=PlainTextInputElement(action_id="value", initial_value=initial or None, multiline=multiline),
    )


def schedule_modal(
    channel: str,
    lang: str,
    default_timezone: str,
    current: dict[str, ScheduleSpec],
    skip_dates: list[str],
    tags: tuple[str, ...],
    language: str | None,
    response_url: str = "",
) -> dict[str, Any]:
    """The schedule modal for one channel, prefilled with its current schedule."""
    story = current.get("story") or ScheduleSpec("story", ("mon",), "09:00", default_timezone)
    prompt = current.get("prompt")
    blocks: list[Block] = [
        _days("story_days", t("schedule.story_days", lang), lang, story.weekdays),
        _text("story_time", t("schedule.story_time", lang), story.time),
        _days("prompt_days", t("schedule.prompt_days", lang), lang, prompt.weekdays if prompt else ()),
        _text("prompt_time", t("schedule.prompt_time", lang), prompt.time if prompt else "09:30"),
        _text("timezone", t("schedule.timezone", lang), story.timezone, optional=False),
        _text("skip_dates", t("schedule.skip", lang), ", ".join(skip_dates)),
        _text("tags", t("schedule.tags", lang), ", ".join(tags)),
        _language_select(lang, language),
    ]
    return View(
        type="modal",
        callback_id=SCHEDULE_CALLBACK,
        title=_title(t("schedule.title", lang)),
        submit=t("modal.submit", lang),
        close=t("modal.cancel", lang),
        private_metadata=json.dumps({"channel": channel, "response_url": response_url}),
        blocks=blocks,
    ).to_dict()


def read_schedule_form(
    view: dict[str, Any],
) -> tuple[ScheduleForm | None, dict[str, tuple[str, dict[str, Any]]]]:
    """(form, {}) when valid, else (None, {block_id: (message id, params)})."""
    values = view.get("state", {}).get("values", {})

    def element(block: str) -> dict[str, Any]:
        return values.get(block, {}).get("value", {}) or {}

    def days(block: str) -> tuple[str, ...]:
        chosen = {o.get("value") for o in element(block).get("selected_options") or []}
        return tuple(d for d in WEEKDAYS if d in chosen)

    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    timezone = (element("timezone").get("value") or "").strip()
    if not valid_timezone(timezone):
        errors["timezone"] = ("error.timezone", {})
    specs: list[ScheduleSpec] = []
    for kind in ("story", "prompt"):
        chosen = days(f"{kind}_days")
        raw_time = (element(f"{kind}_time").get("value") or "").strip()
        if not chosen:
            continue
        time = parse_time(raw_time)
        if time is None:
            errors[f"{kind}_time"] = ("error.time", {})
        elif "timezone" not in errors:
            specs.append(ScheduleSpec(kind, chosen, time, timezone))
    if not specs and not errors:
        errors["story_days"] = ("error.no_schedule", {})
    skip_dates, bad = parse_skip_dates(element("skip_dates").get("value") or "")
    if bad:
        errors["skip_dates"] = ("error.dates", {"bad": ", ".join(bad[:5])})
    language = (element("language").get("selected_option") or {}).get("value")
    tags: list[str] = []
    for typed in split_tags(clean_text(element("tags").get("value") or "")):
        tag = typed.strip().lstrip("#").strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    if errors:
        return None, errors
    return ScheduleForm(
        specs=specs, skip_dates=skip_dates, tags=tuple(tags[:MAX_TAGS]), language=language
    ), {}


def describe_schedule(spec: ScheduleSpec, lang: str) -> str:
    """When a schedule posts, in `lang`: "Mon, Thu at 09:00 (Europe/Berlin)"."""
    days = ", ".join(t(f"day.{day}", lang) if day in WEEKDAYS else day for day in spec.weekdays)
    return t("schedule.when", lang, days=days, time=spec.time, timezone=spec.timezone)


def schedule_lines(specs: list[ScheduleSpec], skip_dates: list[str], now: datetime, lang: str) -> str:
    """One line per schedule with its next run, for confirmations and App Home. The next run
    is written in the schedule's own time zone, as `lang` writes dates ("Montag, 7. Dezember, 09:00")."""
    lines = []
    for spec in specs:
        upcoming = next_run(spec, now, skip_dates)
        lines.append(
            t(
                "schedule.line",
                lang,
                kind=t(f"schedule.kind.{spec.kind}", lang),
                when=escape(describe_schedule(spec, lang)),
                next=escape(day_and_time(upcoming, lang)) if upcoming else "—",
            )
        )
    return "\n".join(lines)


def _improvement_channel_select(lang: str, current: str | None) -> InputBlock:
    """The improvement channel for complaints: an optional channel picker (no DMs)."""
    return InputBlock(
        block_id="improvement_channel",
        label=t("settings.improvement_channel", lang),
        hint=t("settings.improvement_hint", lang),
        optional=True,
        element=ConversationSelectElement(
            action_id="value",
            initial_conversation=current if current and IMPROVEMENT_CHANNEL.match(current) else None,
            filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
        ),
    )


def settings_modal(
    lang: str, prompts: list[str], language: str | None, improvement_channel: str | None = None
) -> dict[str, Any]:
    """Workspace settings: the improvement channel for complaints, custom stand-up prompts (one
    per line) and the default language."""
    return View(
        type="modal",
        callback_id=SETTINGS_CALLBACK,
        title=t("settings.title", lang),
        submit=t("modal.submit", lang),
        close=t("modal.cancel", lang),
        blocks=[
            _improvement_channel_select(lang, improvement_channel),
            _text("prompts", t("settings.prompts", lang), "\n".join(prompts), multiline=True),
            _language_select(lang, language),
        ],
    ).to_dict()


def read_improvement_channel(
    view: dict[str, Any],
) -> tuple[str | None, dict[str, tuple[str, dict[str, Any]]]]:
    """(the chosen improvement channel or None, {}), or (None, {block_id: error}) for a choice
    that is not a channel (a direct message, junk)."""
    values = view.get("state", {}).get("values", {})
    element = (values.get("improvement_channel", {}) or {}).get("value", {}) or {}
    if not isinstance(element, dict):
        return None, {}
    chosen = element.get("selected_conversation") or element.get("selected_channel")
    if chosen in (None, ""):
        return None, {}
    if not isinstance(chosen, str) or not IMPROVEMENT_CHANNEL.match(chosen):
        return None, {"improvement_channel": ("error.improvement_channel", {})}
    return chosen, {}


def read_settings_form(
    view: dict[str, Any],
) -> tuple[list[str], str | None, dict[str, tuple[str, dict[str, Any]]]]:
    values = view.get("state", {}).get("values", {})
    raw = (values.get("prompts", {}).get("value", {}) or {}).get("value") or ""
    prompts = []
    for line in clean_text(raw).splitlines():
        line = line.strip().lstrip("•-* ").strip()
        if line and line not in prompts:
            prompts.append(line)
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    if len(prompts) > MAX_PROMPTS or any(len(p) > MAX_PROMPT_LENGTH for p in prompts):
        errors["prompts"] = ("error.prompts", {"count": MAX_PROMPTS, "limit": MAX_PROMPT_LENGTH})
    language = ((values.get("language", {}).get("value", {}) or {}).get("selected_option") or {}).get("value")
    return prompts, language, errors


def _preview_value(state: dict[str, Any]) -> str:
    """The preview state as a button value within Slack's 2000 characters: a long typed query
    is shortened (Shuffle and Post then use the shortened query)."""
    value = json.dumps(state, separators=(",", ":"))
    query = str(state.get("q") or "")
    while len(value) > VALUE_LIMIT and query:
        query = query[: max(0, len(query) - (len(value) - VALUE_LIMIT) - 1)]
        value = json.dumps({**state, "q": query}, separators=(",", ":"))
    return value


def preview_blocks(
    post_blocks: list[dict[str, Any]],
    channel: str,
    lang: str,
    state: dict[str, Any],
    heading: str | None = None,
) -> list[dict[str, Any]]:
    """The ephemeral preview: a heading, the post as it would appear, Post / Shuffle / Cancel.

    `heading` is safe mrkdwn (catalog text); the post blocks come from the renderers.
    """
    value = _preview_value(state)
    head = section(heading or t("preview.title", lang, channel=escape(channel)))
    actions = ActionsBlock(
        block_id="preview_actions",
        elements=[
            ButtonElement(
                text=button_text(t("button.post", lang)), action_id=ACTION_POST, value=value, style="primary"
            ),
            ButtonElement(text=button_text(t("button.shuffle", lang)), action_id=ACTION_SHUFFLE, value=value),
            ButtonElement(text=button_text(t("button.cancel", lang)), action_id=ACTION_CANCEL, value=value),
        ],
    )
    return [head.to_dict(), divider(), *post_blocks[:PREVIEW_POST_BLOCKS], divider(), actions.to_dict()]
