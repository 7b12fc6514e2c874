"""Manager actions over HTTP against the real app: story previews, Post, schedules, settings."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import func, select

from bot.messages import t
from domain.schedule import ChannelSchedule
from domain.story import Draft, Story
from storage import channels, posts, queries
from storage.db import Database
from storage.models import PostRow
from tests.conftest import RunningApp
from tests.signing import block_action_payload, command_body, interactive_body, view_submission_payload
from tests.slack_spec import assert_calls_match_spec
from tests.slack_standin import Call, SlackStandin

BROADCAST = "Heads up <!channel>: it just works & <!here> loves it"
ESCAPED = "&lt;!channel&gt;"
REFUSAL = "Only managers can do that"
PREVIEW_BUTTONS = {"preview_post", "preview_shuffle", "preview_cancel"}


@pytest.fixture(autouse=True)
def nothing_pings_anyone(standin: SlackStandin) -> Iterator[None]:
    """Whatever a test did, no post, DM or preview carried a live @channel/@here."""
    yield
    for call in standin.calls_to("chat.postMessage") + standin.calls_to("response_url"):
        sent = json.dumps(call.args)
        for live in ("<!channel>", "<!here>", "<!everyone>"):
            assert live not in sent, f"{live} went out live in {call.method}: {sent[:300]}"


# --- Helpers ---------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def add_story(
    app: RunningApp, customer: str = "Acme", quote: str = BROADCAST, author: str = "U0AUTH", **fields: Any
) -> Story:
    draft = Draft(**{"customer": customer, "quote": quote, **fields})
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        return queries.add_story(session, ws, draft, author=author, channel="C1")


def replies(app: RunningApp, name: str) -> list[Call]:
    """What the app sent to the response_url called `name`, oldest first."""
    return [c for c in app.standin.calls_to("response_url") if c.path == f"/respond/{name}"]


def reply(app: RunningApp, name: str, count: int = 1) -> dict[str, Any]:
    """Wait for the `count`-th post to response_url `name` and return it."""
    wait_until(lambda: len(replies(app, name)) >= count)
    return replies(app, name)[count - 1].args


def command(app: RunningApp, text: str, user: str = "UBOSS", name: str = "cmd", **kw: Any) -> int:
    body = command_body(text=text, user_id=user, response_url=app.standin.response_url(name), **kw)
    status, _ = app.post(body)
    assert status == 200
    return status


def click(app: RunningApp, action_id: str, value: str, user: str = "UBOSS", name: str = "preview") -> None:
    """Press a button on the ephemeral preview, as Slack sends it."""
    container = {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C1",
        "is_ephemeral": True,
    }
    payload = block_action_payload(
        action_id,
        value,
        user_id=user,
        block_id="preview_actions",
        container=container,
        response_url=app.standin.response_url(name),
    )
    status, _ = app.post(interactive_body(payload))
    assert status == 200


def assert_blocks_valid(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """{action_id: value} of the buttons in a message."""
    return {
        e["action_id"]: e["value"]
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    }


def preview(
    app: RunningApp, text: str = "story", name: str = "cmd", count: int = 1, **kw: Any
) -> dict[str, Any]:
    """Run `/impact story …` and return the ephemeral preview, checked as Block Kit."""
    command(app, text, name=name, **kw)
    shown = reply(app, name, count)
    assert shown.get("response_type", "ephemeral") == "ephemeral"
    assert_blocks_valid(shown["blocks"])
    assert set(buttons(shown)) == PREVIEW_BUTTONS
    return shown


def channel_posts(app: RunningApp, channel: str) -> list[Call]:
    return [c for c in app.standin.calls_to("chat.postMessage") if c.args.get("channel") == channel]


def stored_posts(app: RunningApp) -> int:
    """The bot's channel posts on record (the direct messages closing the loop are recorded too)."""
    with app.db.session() as session:
        return int(session.scalar(select(func.count(PostRow.id)).where(PostRow.kind != "dm")) or 0)


def workspace_id(app: RunningApp) -> int:
    with app.db.session() as session:
        return queries.workspace_id(session, "T111")


def schedules(app: RunningApp) -> list[ChannelSchedule]:
    with app.db.session() as session:
        return channels.list_schedules(session, queries.workspace_id(session, "T111"))


def custom_prompts(app: RunningApp) -> list[str]:
    with app.db.session() as session:
        return channels.custom_prompts(session, queries.workspace_id(session, "T111"))


def opened_view(app: RunningApp, count: int = 1) -> dict[str, Any]:
    view: dict[str, Any] = app.standin.wait_for("views.open", count)[count - 1].json_arg("view")
    View(**view).validate_json()
    return view


def submit(
    app: RunningApp, callback_id: str, state: dict[str, Any], meta: str = "", user: str = "UBOSS"
) -> str:
    """Submit a modal whose every input has action_id "value"; returns the HTTP body."""
    values = {block: {"value": element} for block, element in state.items()}
    payload = view_submission_payload(callback_id, values, private_metadata=meta, user_id=user)
    status, body = app.post(interactive_body(payload))
    assert status == 200
    return body


def schedule_state(**overrides: Any) -> dict[str, Any]:
    def days(*chosen: str) -> dict[str, Any]:
        return {"type": "checkboxes", "selected_options": [{"value": d} for d in chosen]}

    def text(value: str | None) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    state = {
        "story_days": days("mon", "fri"),
        "story_time": text("9:00"),
        "prompt_days": days("tue", "wed", "thu"),
        "prompt_time": text("09:30"),
        "timezone": text("Europe/Berlin"),
        "skip_dates": text("2026-12-24, 2026-12-31"),
        "tags": text("#Finance, onboarding"),
        "language": {"type": "static_select", "selected_option": {"value": "de"}},
    }
    state.update({k: text(v) if isinstance(v, str) else v for k, v in overrides.items()})
    return state


# --- 1. Non-managers are refused, and nothing happens -----------------------------------


def test_non_manager_commands_are_refused_and_nothing_happens(running: RunningApp) -> None:
    add_story(running)
    for n, text in enumerate(["story", "schedule", "schedule off", "settings"]):
        command(running, text, user="U1", name=f"r{n}")
    for n in range(4):
        refusal = reply(running, f"r{n}")
        assert REFUSAL in refusal["text"] and "managers" in refusal["text"]
        assert refusal.get("response_type", "ephemeral") == "ephemeral"
        assert_blocks_valid(refusal["blocks"])
        assert "preview_post" not in json.dumps(refusal)
    assert running.standin.calls_to("chat.postMessage") == []
    assert running.standin.calls_to("views.open") == []
    assert schedules(running) == []
    assert_calls_match_spec(running.standin.calls)


def test_non_manager_pressing_the_preview_buttons_is_refused(running: RunningApp) -> None:
    add_story(running)
    value = buttons(preview(running))["preview_post"]
    for n, action in enumerate(["preview_post", "preview_shuffle", "preview_cancel"]):
        click(running, action, value, user="U1", name=f"u{n}")
        refusal = reply(running, f"u{n}")
        assert REFUSAL in refusal["text"]
        # The manager's preview stays as it was.
        assert refusal.get("replace_original") is False and not refusal.get("delete_original")
    assert channel_posts(running, "C1") == [] and stored_posts(running) == 0
    # The refusal did not use up the preview: its manager can still post it, once.
    click(running, "preview_post", value)
    assert reply(running, "preview")["text"].startswith("Posted in <#C1>")
    assert len(channel_posts(running, "C1")) == 1


# --- 2. Who is a manager ----------------------------------------------------------------


@pytest.mark.parametrize("way", ["IMPACT_MANAGERS", "IMPACT_MANAGER_GROUP", "workspace admin"])
def test_managers_by_setting_group_or_admin_can_preview(
    make_app: Any, db: Database, standin: SlackStandin, way: str
) -> None:
    standin.usergroups = [{"id": "S2", "handle": "sales"}, {"id": "S1", "handle": "leads"}]
    standin.usergroup_users = {"S1": ["U0LEAD"], "S2": ["U0SALES"]}
    standin.users["U0ADM"] = {"is_admin": True}
    if way == "IMPACT_MANAGERS":
        app, user = make_app(db), "UBOSS"
    elif way == "IMPACT_MANAGER_GROUP":
        app, user = make_app(db, manager_group="leads"), "U0LEAD"
    else:
        app, user = make_app(db), "U0ADM"
    add_story(app)
    shown = preview(app, user=user)
    assert "Customer of the week: Acme" in json.dumps(shown["blocks"])
    # A member of another group is no manager.
    command(app, "story", user="U0SALES", name="other")
    assert REFUSAL in reply(app, "other")["text"]
    if way == "IMPACT_MANAGER_GROUP":
        assert [c.args["usergroup"] for c in standin.calls_to("usergroups.users.list")] == ["S1"]
    if way == "workspace admin":
        assert "U0ADM" in {c.args.get("user") for c in standin.calls_to("users.info")}
    assert_calls_match_spec(standin.calls)


# --- 3-5. /impact story: preview, Shuffle, Post, Cancel -------------------------------------


def test_story_preview_shuffle_post_once_and_tell_author_and_colleagues(running: RunningApp) -> None:
    add_story(running, impact="Closed the books in two days", credited=("U0222", "U0333"), author="U0AUTH")
    add_story(running, customer="Globex", quote="Support answered in minutes", author="U0AUTH")
    shown = preview(running)
    text = json.dumps(shown["blocks"])
    assert "Preview for <#C1>" in text and "Customer of the week: Acme" in text
    assert ESCAPED in text and "Closed the books in two days" in text
    assert "Globex" not in text

    click(running, "preview_shuffle", buttons(shown)["preview_shuffle"])
    shuffled = reply(running, "preview")
    assert shuffled["replace_original"] is True
    assert_blocks_valid(shuffled["blocks"])
    assert "Customer of the week: Globex" in json.dumps(shuffled["blocks"])
    assert "Acme" not in json.dumps(shuffled["blocks"])
    assert channel_posts(running, "C1") == []

    # Shuffle wraps around to the first candidate again.
    click(running, "preview_shuffle", buttons(shuffled)["preview_shuffle"])
    assert "Customer of the week: Acme" in json.dumps(reply(running, "preview", 2)["blocks"])

    # Post the shuffled preview (Globex): exactly one message in the channel.
    post_value = buttons(shuffled)["preview_post"]
    click(running, "preview_post", post_value)
    posted = reply(running, "preview", 3)
    assert posted["replace_original"] is True
    match = re.fullmatch(r"Posted in <#C1>: (https://\S+)", posted["text"])
    assert match, posted["text"]
    permalink = match.group(1)
    [post] = channel_posts(running, "C1")
    blocks = post.json_arg("blocks")
    assert_blocks_valid(blocks)
    assert "Customer of the week: Globex" in json.dumps(blocks) and "Support answered" in json.dumps(blocks)
    assert post.args["text"]
    assert stored_posts(running) == 1

    # The author hears about it once; Globex credited nobody.
    [dm] = channel_posts(running, "U0AUTH")
    assert permalink in dm.args["text"] and "Globex" in dm.args["text"]

    # Pressing Post again (a double click, a second tab) does not post twice.
    click(running, "preview_post", post_value)
    again = reply(running, "preview", 4)
    assert "already posted" in again["text"]
    assert len(channel_posts(running, "C1")) == 1 and stored_posts(running) == 1
    assert len(channel_posts(running, "U0AUTH")) == 1
    assert_calls_match_spec(running.standin.calls)


def test_post_dms_author_and_credited_colleagues_with_the_permalink(running: RunningApp) -> None:
    add_story(running, credited=("U0222", "U0333", "U0AUTH"), author="U0AUTH")
    shown = preview(running)
    click(running, "preview_post", buttons(shown)["preview_post"])
    posted = reply(running, "preview")
    permalink = posted["text"].rsplit(" ", 1)[-1]
    assert permalink.startswith("https://example.slack.com/archives/C1/p")
    [post] = channel_posts(running, "C1")
    blocks = json.dumps(post.json_arg("blocks"))
    assert ESCAPED in blocks and "<@U0222>" in blocks and "<@U0AUTH>" in blocks
    assert ESCAPED in post.args["text"]
    for user in ("U0AUTH", "U0222", "U0333"):
        [dm] = channel_posts(running, user)
        assert permalink in dm.args["text"] and "<#C1>" in dm.args["text"]
    # The author credited themselves: still one message, not two.
    assert "Your customer story" in channel_posts(running, "U0AUTH")[0].args["text"]
    assert "made possible" in channel_posts(running, "U0222")[0].args["text"]
    assert_calls_match_spec(running.standin.calls)


def test_post_double_clicked_at_once_goes_out_once(running: RunningApp) -> None:
    add_story(running)
    value = buttons(preview(running))["preview_post"]
    clicks = [threading.Thread(target=click, args=(running, "preview_post", value)) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    answers = sorted(reply(running, "preview", n)["text"] for n in (1, 2))
    assert "already posted" in answers[1] and answers[0].startswith("Posted in <#C1>")
    assert len(channel_posts(running, "C1")) == 1 and stored_posts(running) == 1
    assert len(channel_posts(running, "U0AUTH")) == 1


def test_cancel_deletes_the_preview_and_posts_nothing(running: RunningApp) -> None:
    add_story(running)
    shown = preview(running)
    click(running, "preview_cancel", buttons(shown)["preview_cancel"])
    assert reply(running, "preview")["delete_original"] is True
    assert channel_posts(running, "C1") == [] and stored_posts(running) == 0


def test_story_for_another_channel_filtered_by_customer(running: RunningApp) -> None:
    add_story(running, customer="Globex", quote="Rich story", impact="Saved a week", contact="CFO")
    add_story(running, customer="Acme Corp", quote="Plain story")
    shown = preview(running, "story <#C777|sales> acme")
    text = json.dumps(shown["blocks"])
    assert "Preview for <#C777>" in text and "Customer of the week: Acme Corp" in text
    assert "Globex" not in text
    value = buttons(shown)["preview_post"]
    assert json.loads(value)["c"] == "C777"

    # Shuffle stays within the filter: Acme is the only match.
    click(running, "preview_shuffle", buttons(shown)["preview_shuffle"])
    assert "Globex" not in json.dumps(reply(running, "preview"))

    click(running, "preview_post", value)
    assert reply(running, "preview", 2)["text"].startswith("Posted in <#C777>")
    [post] = channel_posts(running, "C777")
    assert "Acme Corp" in json.dumps(post.json_arg("blocks"))
    assert channel_posts(running, "C1") == []


def test_story_query_matching_nothing_says_so(running: RunningApp) -> None:
    add_story(running)
    command(running, "story nosuchcustomer <!here>")
    answer = reply(running, "cmd")
    assert "No story matches" in answer["text"] and "nosuchcustomer" in answer["text"]
    assert "preview_post" not in json.dumps(answer)
    assert running.standin.calls_to("chat.postMessage") == []


def test_story_preview_without_stories_shows_the_invitation(running: RunningApp) -> None:
    # A complaint is never featured, so it does not count as a story to post.
    add_story(running, kind="complaint")
    shown = preview(running)
    text = json.dumps(shown["blocks"])
    assert "no customer story to post yet" in text
    assert "Share it with `/impact Customer: what they said`" in text
    assert "Customer of the week" not in text


# --- 4. Post where the bot is not a member -------------------------------------------------


def test_post_without_the_bot_in_the_channel_gives_the_invite_hint(running: RunningApp) -> None:
    add_story(running, credited=("U0222",))
    running.standin.error("chat.postMessage", "not_in_channel", channel="C1")
    shown = preview(running)
    click(running, "preview_post", buttons(shown)["preview_post"])
    hint = reply(running, "preview")
    assert hint["replace_original"] is True
    assert "/invite @Impact" in hint["text"]
    assert [c.error for c in running.standin.attempts_to("chat.postMessage")] == ["not_in_channel"]
    # Nothing stored as posted, and nobody was told their story was featured.
    assert stored_posts(running) == 0
    with running.db.session() as session:
        assert posts.featured_story_ids(session, workspace_id(running), "C1") == frozenset()
    assert running.standin.calls_to("chat.postMessage") == []


# --- 6. /impact schedule --------------------------------------------------------------------


def test_schedule_modal_validates_saves_confirms_and_off_removes(running: RunningApp) -> None:
    command(running, "schedule", name="sched")
    view = opened_view(running)
    assert view["callback_id"] == "schedule_modal"
    # Slack's 24-character title limit never cuts a word in half ("Schedule for this channe").
    title = view["title"]["text"].rstrip("…").split()
    assert title and title == t("schedule.title", "en").split()[: len(title)]
    meta = json.loads(view["private_metadata"])
    assert meta["channel"] == "C1" and meta["response_url"] == running.standin.response_url("sched")
    assert {b["block_id"] for b in view["blocks"]} == {
        "story_days",
        "story_time",
        "prompt_days",
        "prompt_time",
        "timezone",
        "skip_dates",
        "tags",
        "language",
    }

    body = submit(running, "schedule_modal", schedule_state(story_time="25:00"), view["private_metadata"])
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and set(answer["errors"]) == {"story_time"}
    assert "24-hour" in answer["errors"]["story_time"]
    body = submit(
        running, "schedule_modal", schedule_state(timezone="Mars/Olympus"), view["private_metadata"]
    )
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and set(answer["errors"]) == {"timezone"}
    assert "IANA" in answer["errors"]["timezone"]
    assert schedules(running) == [] and replies(running, "sched") == []

    assert submit(running, "schedule_modal", schedule_state(), view["private_metadata"]) == ""
    saved = reply(running, "sched")
    assert saved.get("response_type", "ephemeral") == "ephemeral"
    assert saved["text"].startswith("Saved.")
    assert "Mon, Fri at 09:00 (Europe/Berlin)" in saved["text"]
    assert "Tue, Wed, Thu at 09:30 (Europe/Berlin)" in saved["text"]
    # Each next run in the schedule's own zone, as English writes dates: "Friday, December 4 at 09:00".
    assert re.search(r"next: (Monday|Friday), [A-Z][a-z]+ \d{1,2} at 09:00\n", saved["text"])
    assert re.search(r"next: (Tuesday|Wednesday|Thursday), [A-Z][a-z]+ \d{1,2} at 09:30$", saved["text"])
    by_kind = {s.spec.kind: s for s in schedules(running)}
    assert set(by_kind) == {"story", "prompt"}
    story, prompt = by_kind["story"], by_kind["prompt"]
    assert (story.channel_id, story.spec.weekdays, story.spec.time) == ("C1", ("mon", "fri"), "09:00")
    assert (prompt.spec.weekdays, prompt.spec.time) == (("tue", "wed", "thu"), "09:30")
    assert story.spec.timezone == prompt.spec.timezone == "Europe/Berlin"
    assert story.tags == ("finance", "onboarding") and story.language == "de"
    assert story.skip_dates == ("2026-12-24", "2026-12-31")

    # Opening it again shows what is set.
    command(running, "schedule", name="sched2")
    again = {b["block_id"]: b["element"] for b in opened_view(running, 2)["blocks"]}
    assert [o["value"] for o in again["story_days"]["initial_options"]] == ["mon", "fri"]
    assert again["timezone"]["initial_value"] == "Europe/Berlin"
    assert again["language"]["initial_option"]["value"] == "de"

    command(running, "schedule off", name="off")
    assert "Removed this channel's schedules" in reply(running, "off")["text"]
    assert schedules(running) == []
    command(running, "schedule off", name="off2")
    assert "had no schedule" in reply(running, "off2")["text"]
    assert running.standin.calls_to("chat.postMessage") == []
    assert_calls_match_spec(running.standin.calls)


def test_schedule_submission_by_non_manager_is_refused(running: RunningApp) -> None:
    meta = json.dumps({"channel": "C1", "response_url": running.standin.response_url("sched")})
    answer = json.loads(submit(running, "schedule_modal", schedule_state(), meta, user="U1"))
    assert answer["response_action"] == "errors" and REFUSAL in answer["errors"]["story_days"]
    assert schedules(running) == []
    assert replies(running, "sched") == [] and running.standin.calls_to("chat.postMessage") == []


# --- 7. /impact settings --------------------------------------------------------------------


def test_settings_modal_stores_custom_prompts(running: RunningApp) -> None:
    command(running, "settings")
    view = opened_view(running)
    assert view["callback_id"] == "settings_modal"
    prompts = {
        "type": "plain_text_input",
        "value": "Which customer noticed our work?\n\n- Whose day did we make?\n",
    }
    language = {"type": "static_select", "selected_option": {"value": "nl"}}

    refused = json.loads(
        submit(running, "settings_modal", {"prompts": prompts, "language": language}, user="U1")
    )
    assert refused["response_action"] == "errors" and REFUSAL in refused["errors"]["prompts"]
    assert custom_prompts(running) == []

    assert submit(running, "settings_modal", {"prompts": prompts, "language": language}) == ""
    [confirmation] = running.standin.wait_for("chat.postMessage")
    assert confirmation.args["channel"] == "UBOSS" and "2 custom prompts" in confirmation.args["text"]
    assert custom_prompts(running) == ["Which customer noticed our work?", "Whose day did we make?"]
    with running.db.session() as session:
        assert queries.workspace_language(session, workspace_id(running)) == "nl"

    command(running, "settings", name="again")
    reopened = {b["block_id"]: b["element"] for b in opened_view(running, 2)["blocks"]}
    assert reopened["prompts"]["initial_value"] == "Which customer noticed our work?\nWhose day did we make?"
    assert_calls_match_spec(running.standin.calls)
