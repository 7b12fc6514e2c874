"""English, German and Dutch over HTTP against the real app, as a new user would meet them.

"No word of another language" is checked with the catalogs themselves: the words (4 letters or
more) that only one language's catalog uses. What the tests type as customers and quotes, code
in backticks (commands stay commands) and Slack markup are left out of the check.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.catalogs import read_catalog
from bot.messages import EN, t
from bot.prompts import builtin_prompts
from domain.schedule import ChannelSchedule
from storage import channels, queries
from tests.conftest import RunningApp, acked_message
from tests.signing import (
    block_action_payload,
    command_body,
    event_body,
    interactive_body,
    view_submission_payload,
)
from tests.slack_standin import Call

ROOT = Path(__file__).resolve().parents[2]
# The message shortcut's name comes from manifest.json, which Slack does not translate; the help
# names it as users see it in Slack's menu.
SHORTCUT = json.loads((ROOT / "manifest.json").read_text())["features"]["shortcuts"][0]["name"]
WORD = re.compile(r"[^\W\d_]{4,}")
MARKUP = re.compile(r"<(?:[@#!][^>|]*)(?:\|([^>]*))?>|<https?://[^>|]*\|([^>]*)>")
CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def plain_words(text: str) -> set[str]:
    """The words of bot text: Slack markup reduced to its label, code and placeholders left out."""
    text = MARKUP.sub(lambda m: m.group(1) or m.group(2) or " ", text)
    text = CODE.sub(" ", text).replace(SHORTCUT, " ")
    text = PLACEHOLDER.sub(" ", text)
    return {w.casefold() for w in WORD.findall(text)}


def catalog_words(lang: str) -> set[str]:
    texts = EN.values() if lang == "en" else [str(m.string) for m in read_catalog(lang) if m.id]
    return set().union(*(plain_words(text) for text in texts))


WORDS = {lang: catalog_words(lang) for lang in ("en", "de", "nl")}


def foreign_words(lang: str) -> set[str]:
    """Words only the other languages' catalogs use."""
    others = set().union(*(w for code, w in WORDS.items() if code != lang))
    return others - WORDS[lang]


STORIES = {
    "en": ("Acme Corp", "They closed the quarter a week early with the new export"),
    "de": ("Müller Bau", "Mit dem neuen Export sparen wir jeden Monat zwei Tage"),
    "nl": ("Bakker Logistiek", "Met de nieuwe export besparen we elke maand twee dagen"),
}
PROMPT_CHANNEL = "C0PROMPT"


# --- Reading what Slack was sent --------------------------------------------------------------


def shown_texts(payload: Any) -> list[str]:
    """Every text a person sees in a message, view or ack: text objects, top-level texts, and
    inline field errors."""
    found: list[str] = []
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "text" and isinstance(value, str):
                found.append(value)
            elif key == "errors" and isinstance(value, dict):
                found += [v for v in value.values() if isinstance(v, str)]
            elif key not in ("value", "action_id", "block_id", "callback_id", "private_metadata"):
                found += shown_texts(value)
    elif isinstance(payload, list):
        for item in payload:
            found += shown_texts(item)
    return found


def assert_speaks(lang: str, payload: Any, typed: Iterable[str] = ()) -> str:
    """All the payload's texts are in `lang`: no word that only another language uses."""
    texts = shown_texts(payload)
    assert texts, f"nothing to read in {payload!r:.300}"
    joined = "\n".join(texts)
    for own in typed:
        joined = joined.replace(own, " ")
    strays = plain_words(joined) & foreign_words(lang)
    assert not strays, f"{sorted(strays)} in a {lang} text: {joined[:600]}"
    return joined


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def replies(app: RunningApp, name: str) -> list[Call]:
    return [c for c in app.standin.calls_to("response_url") if c.path == f"/respond/{name}"]


def reply(app: RunningApp, name: str, count: int = 1) -> dict[str, Any]:
    wait_until(lambda: len(replies(app, name)) >= count)
    return replies(app, name)[count - 1].args


def command(app: RunningApp, text: str, user: str = "U0ANN", name: str = "cmd", channel: str = "C1") -> str:
    body = command_body(
        text=text, user_id=user, channel_id=channel, response_url=app.standin.response_url(name)
    )
    status, answer = app.post(body)
    assert status == 200
    return answer


def click(app: RunningApp, action_id: str, value: str, user: str, name: str) -> None:
    payload = block_action_payload(
        action_id, value, user_id=user, response_url=app.standin.response_url(name)
    )
    assert app.post(interactive_body(payload))[0] == 200


def submit(
    app: RunningApp, callback_id: str, state: dict[str, Any], meta: str = "", user: str = "U0ANN"
) -> str:
    payload = view_submission_payload(
        callback_id, {block: {"value": v} for block, v in state.items()}, private_metadata=meta, user_id=user
    )
    status, body = app.post(interactive_body(payload))
    assert status == 200
    return body


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        e["action_id"]: e["value"]
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    }


def assert_blocks_valid(blocks: list[dict[str, Any]]) -> None:
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


def posts_in(app: RunningApp, channel: str) -> list[Call]:
    return [c for c in app.standin.calls_to("chat.postMessage") if c.args.get("channel") == channel]


def open_home(app: RunningApp, user: str, count: int) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home", "event_ts": "1.0"}
    assert app.post(event_body(event, event_id=f"EvLang{user}{count}"))[0] == 200
    wait_until(
        lambda: len([c for c in app.standin.calls_to("views.publish") if c.args["user_id"] == user]) >= count
    )
    call = [c for c in app.standin.calls_to("views.publish") if c.args["user_id"] == user][count - 1]
    view: dict[str, Any] = call.json_arg("view")
    View(**view).validate_json()
    return view


def schedule_channel(app: RunningApp, channel: str, language: str | None, user: str = "UBOSS") -> str:
    """Submit the schedule modal for `channel`: stories Monday 09:00, prompts Tuesday 09:30."""
    days = lambda *d: {"type": "checkboxes", "selected_options": [{"value": x} for x in d]}  # noqa: E731
    text = lambda v: {"type": "plain_text_input", "value": v}  # noqa: E731
    state = {
        "story_days": days("mon"),
        "story_time": text("09:00"),
        "prompt_days": days("tue"),
        "prompt_time": text("09:30"),
        "timezone": text("Europe/Berlin"),
        "skip_dates": text(""),
        "tags": text(""),
        "language": {"type": "static_select", "selected_option": {"value": language} if language else None},
    }
    name = f"schedule-{channel}"
    meta = json.dumps({"channel": channel, "response_url": app.standin.response_url(name)})
    assert submit(app, "schedule_modal", state, meta, user=user) == ""
    return str(reply(app, name)["text"])


def run_slots(app: RunningApp, channel: str) -> list[dict[str, Any]]:
    """Run the channel's story slot, then its prompt slot, now, as the scheduler would; returns
    every post in the channel, these last."""
    with app.db.session() as session:
        found: list[ChannelSchedule] = [
            s
            for s in channels.list_schedules(session, queries.workspace_id(session, "T111"))
            if s.channel_id == channel
        ]
    now = datetime.now(UTC)
    for schedule in sorted(found, key=lambda s: s.spec.kind != "story"):
        assert app.services.poster.run_slot(schedule, now.replace(second=0, microsecond=0), now) == "posted"
    return [c.args | {"blocks": c.json_arg("blocks")} for c in posts_in(app, channel)]


# --- One new user's way through the bot, in each language ----------------------------------


@pytest.mark.parametrize("lang", ["en", "de", "nl"])
def test_a_new_user_meets_only_their_language(make_app: Any, db: Any, lang: str) -> None:
    app: RunningApp = make_app(db, language=lang)  # IMPACT_LANGUAGE
    customer, quote = STORIES[lang]
    typed = (customer, quote)

    # Help: the ack itself.
    helped = json.loads(command(app, "help"))
    assert t("help", lang).split("\n")[0] in assert_speaks(lang, helped)

    # Quick log: the confirmation (in the ack), its Edit and Delete buttons and the delete dialog.
    confirmation = acked_message(command(app, f"{customer}: {quote}", name="log"))
    assert replies(app, "log") == []
    assert_blocks_valid(confirmation["blocks"])
    said = assert_speaks(lang, confirmation, typed)
    for mid in ("saved", "button.edit", "button.delete", "confirm.delete_title", "confirm.delete_no"):
        assert t(mid, lang) in said
    assert t("story.header", lang, customer=customer) in json.dumps(confirmation, ensure_ascii=False)

    # The modal, and its inline errors.
    command(app, "", name="modal")
    view = app.standin.wait_for("views.open")[-1].json_arg("view")
    View(**view).validate_json()
    labels = assert_speaks(lang, view)
    assert t("modal.title", lang) in labels and t("consent.anonymous", lang) in labels
    assert t("kind.praise", lang) in labels
    errors = submit(
        app,
        "story_modal",
        {
            "customer": {"type": "plain_text_input", "value": ""},
            "quote": {"type": "plain_text_input", "value": "x" * 3001},
            "source": {"type": "url_text_input", "value": "ftp://files"},
        },
    )
    answer = json.loads(errors)
    assert answer["response_action"] == "errors" and set(answer["errors"]) == {"customer", "quote", "source"}
    assert t("error.required", lang) in assert_speaks(lang, answer)

    # The list: kind and date in the user's language too.
    command(app, "list", name="list")
    listed = reply(app, "list")
    shown = assert_speaks(lang, listed, typed)
    assert t("list.title", lang) in shown and t("kind.praise", lang) in shown

    # A manager's preview, the post it makes, and the author's direct message.
    command(app, "story", user="UBOSS", name="preview")
    preview = reply(app, "preview")
    assert t("preview.title", lang, channel="C1") in assert_speaks(lang, preview, typed)
    click(app, "preview_post", buttons(preview)["preview_post"], "UBOSS", "preview")
    assert t("posted", lang, channel="C1", permalink="") in reply(app, "preview", 2)["text"]
    [post] = posts_in(app, "C1")
    blocks = post.json_arg("blocks")
    assert_blocks_valid(blocks)
    assert t("story.question", lang) in assert_speaks(
        lang, {"blocks": blocks, "text": post.args["text"]}, typed
    )
    wait_until(lambda: len(posts_in(app, "U0ANN")) == 1)
    assert (
        t("featured.dm", lang, customer=customer, channel="C1", permalink="")
        in posts_in(app, "U0ANN")[0].args["text"]
    )

    # The stand-up prompt, with its voice of the customer; App Home.
    schedule_channel(app, PROMPT_CHANNEL, None)
    *_, prompt = run_slots(app, PROMPT_CHANNEL)
    prompted = assert_speaks(lang, prompt, typed)
    assert any(p in prompted for p in builtin_prompts(lang)) and t("prompt.voice", lang) in prompted
    home = open_home(app, "U0ANN", 1)
    assert t("home.mine.title", lang) in assert_speaks(lang, home, typed)


# --- A German user in an English workspace, a Dutch channel --------------------------------


def test_a_german_user_in_an_english_workspace_and_a_dutch_channel(running: RunningApp) -> None:
    standin = running.standin
    standin.users["U0ANN"] = {"locale": "de-DE"}
    standin.users["UBOSS"] = {"locale": "de-AT"}
    standin.users["U0NL"] = {"locale": "nl-BE"}

    # The German user's replies are German; an English colleague's stay English.
    assert "Teile, was ein Kunde gesagt hat" in assert_speaks("de", json.loads(command(running, "help")))
    assert "Share what a customer said" in assert_speaks(
        "en", json.loads(command(running, "help", user="U2"))
    )
    asked = [c for c in standin.calls_to("users.info") if c.args.get("user") == "U0ANN"]
    assert asked and all(str(c.args.get("include_locale")).lower() in ("1", "true") for c in asked)
    logged = acked_message(
        command(running, "Acme: Our invoices now go out a day earlier <@U0NL> <@U0EN>", name="log")
    )
    assert logged["text"] == "Gespeichert. So erscheint die Kundenstimme:"

    # The manager (de-AT) sets a Dutch channel; the confirmation is German, dates German too.
    saved = schedule_channel(running, "C0NL", "nl")
    assert saved.startswith("Gespeichert. Der Zeitplan dieses Channels:")
    assert "• Kunde der Woche: Mo um 09:00 (Europe/Berlin) – als Nächstes: Montag, " in saved

    # The preview shows the post as the Dutch channel will get it, around it the manager's German.
    command(running, "story <#C0NL|team-nl>", user="UBOSS", name="preview")
    preview = reply(running, "preview")
    text = json.dumps(preview, ensure_ascii=False)
    assert "Vorschau für <#C0NL>" in text and '"Posten"' in text
    assert "Klant van de week: Acme" in text and "Customer of the week" not in text
    click(running, "preview_post", buttons(preview)["preview_post"], "UBOSS", "preview")
    assert reply(running, "preview", 2)["text"].startswith("Gepostet in <#C0NL>")
    [post] = posts_in(running, "C0NL")
    assert_speaks(
        "nl",
        {"blocks": post.json_arg("blocks"), "text": post.args["text"]},
        ["Acme", "Our invoices now go out a day earlier"],
    )
    # Each person told in their own language: author German, colleagues Dutch and English.
    wait_until(lambda: all(posts_in(running, u) for u in ("U0ANN", "U0NL", "U0EN")))
    assert posts_in(running, "U0ANN")[0].args["text"].startswith("Deine Kundengeschichte von Acme")
    assert posts_in(running, "U0NL")[0].args["text"].startswith("Een klantverhaal dat jij mogelijk maakte")
    assert posts_in(running, "U0EN")[0].args["text"].startswith("A customer story you made possible")

    # Scheduled posts there are Dutch, stand-up prompts included.
    story, prompt = run_slots(running, "C0NL")[1:]
    assert "Klant van de week" in json.dumps(story["blocks"], ensure_ascii=False)
    prompted = assert_speaks("nl", prompt, ["Acme", "Our invoices now go out a day earlier"])
    assert any(p in prompted for p in builtin_prompts("nl")) and "De stem van de klant" in prompted


def test_custom_prompts_stay_in_the_language_they_were_written_in(running: RunningApp) -> None:
    prompts = {"type": "plain_text_input", "value": "Wie hebben we vandaag echt geholpen?"}
    assert submit(running, "settings_modal", {"prompts": prompts}, user="UBOSS") == ""
    schedule_channel(running, "C0DE", "de")
    catalog = set(builtin_prompts("de")) | {"Wie hebben we vandaag echt geholpen?"}
    with running.db.session() as session:
        [schedule] = [
            s
            for s in channels.list_schedules(session, queries.workspace_id(session, "T111"))
            if s.channel_id == "C0DE" and s.spec.kind == "prompt"
        ]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    seen: list[str] = []
    for minute in range(60):  # the rotation is deterministic: the custom prompt comes up
        assert running.services.poster.run_slot(schedule, now.replace(hour=0, minute=minute), now) == "posted"
        seen.append(posts_in(running, "C0DE")[-1].args["text"])
        if seen[-1] == "Wie hebben we vandaag echt geholpen?":
            break
    assert set(seen) <= catalog and seen[-1] == "Wie hebben we vandaag echt geholpen?"
    assert len(seen) > 1  # German built-in prompts came first


def test_without_an_answer_from_slack_the_workspace_language_is_used_and_the_ack_is_fast(
    running: RunningApp,
) -> None:
    language = {"type": "static_select", "selected_option": {"value": "nl"}}
    assert (
        submit(
            running,
            "settings_modal",
            {"prompts": {"type": "plain_text_input", "value": ""}, "language": language},
            user="UBOSS",
        )
        == ""
    )
    running.standin.delay("users.info", 10)
    started = time.monotonic()
    helped = json.loads(command(running, "help", user="U7"))
    assert time.monotonic() - started < 2
    assert "Deel wat een klant zei" in assert_speaks("nl", helped)
    running.standin.reset_faults()
    running.standin.error("users.info", "user_not_found", times=None)
    assert "Deel wat een klant zei" in assert_speaks("nl", json.loads(command(running, "help", user="U8")))
