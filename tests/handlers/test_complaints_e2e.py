"""Complaints over HTTP against the real app and the Slack stand-in: the improvement channel in
`/impact settings`, a complaint posted there once, owned, resolved, and its author told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.complaints import ACTION_OWN, ACTION_RESOLVE, RESOLVE_CALLBACK
from domain.complaint import OPEN, OWNED, RESOLVED, Complaint, marker
from domain.story import Draft, Story
from storage import complaints as store
from storage import queries
from tests.conftest import RunningApp
from tests.handlers.test_home_events import open_home, texts
from tests.handlers.test_manager_e2e import (
    assert_blocks_valid,
    buttons,
    channel_posts,
    command,
    opened_view,
    replies,
    reply,
    submit,
    wait_until,
)
from tests.signing import block_action_payload, interactive_body
from tests.slack_spec import assert_calls_match_spec
from tests.slack_standin import Call, SlackStandin

IMPROVE = "C0IMPROVE"
AUTHOR = "U0REP"
LIVE = ("<!channel>", "<!here>", "<!everyone>", "<@U0BAD>", "<!subteam^S1>")
CUSTOMER = "Acme <!channel> & Co"
QUOTE = "Your export broke <!here> and <@U0BAD> said <http://evil.example|click me>"
COST = "A day of invoicing lost <!everyone>"


@pytest.fixture(autouse=True)
def nothing_pings_anyone(standin: SlackStandin) -> Iterator[None]:
    """Whatever a test did, no post, update, DM or reply carried a live mention or typed link."""
    yield
    for method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"):
        for call in standin.calls_to(method):
            sent = json.dumps(call.args)
            for live in (*LIVE, "<http://evil.example"):
                assert live not in sent, f"{live} went out live in {method}: {sent[:300]}"


# --- Helpers ---------------------------------------------------------------------------


def ws_of(app: RunningApp) -> int:
    with app.db.session() as session:
        return queries.workspace_id(session, "T111")


def set_channel(app: RunningApp, channel: str | None, user: str = "UBOSS", prompts: str = "") -> str:
    """Save the settings modal as a manager (or not) with this improvement channel."""
    state: dict[str, Any] = {
        "prompts": {"type": "plain_text_input", "value": prompts},
        "language": {"type": "static_select", "selected_option": None},
        "improvement_channel": {"type": "conversations_select", "selected_conversation": channel},
    }
    return submit(app, "settings_modal", state, user=user)


def story_state(kind: str = "complaint", **typed: Any) -> dict[str, Any]:
    def text(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    def select(value: str) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value}}

    fields = {"customer": CUSTOMER, "quote": QUOTE, "impact": COST, "contact": "Head of Finance", **typed}
    state: dict[str, Any] = {name: text(value) for name, value in fields.items() if name != "credited"}
    state["kind"] = select(kind)
    state["consent"] = select(typed.get("consent", "internal"))
    state["credited"] = {"type": "multi_users_select", "selected_users": list(typed.get("credited", ()))}
    return state


def log_complaint(
    app: RunningApp, user: str = AUTHOR, name: str = "log", story_id: int | None = None, **typed: Any
) -> None:
    """Submit the story modal (as opened by `/impact`, the shortcut or Edit)."""
    meta = json.dumps({"story_id": story_id, "channel": "C1", "response_url": app.standin.response_url(name)})
    assert submit(app, "story_modal", story_state(**typed), meta, user=user) == ""


def stored(app: RunningApp) -> list[tuple[Story, Complaint]]:
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        found = [store.get_complaint(session, ws, s.id) for s in queries.live_stories(session, ws)]
    return [f for f in found if f is not None]


def wait_posted(app: RunningApp, count: int = 1) -> None:
    """Until `count` complaints are recorded as posted (the record follows Slack's answer)."""
    wait_until(lambda: len([c for _, c in stored(app) if c.ts]) >= count)


def complaint_of(app: RunningApp, story_id: int) -> Complaint:
    with app.db.session() as session:
        found = store.get_complaint(session, queries.workspace_id(session, "T111"), story_id)
    assert found is not None
    return found[1]


def press(app: RunningApp, action_id: str, post: Call, user: str, name: str) -> None:
    """Click a button on the complaint's channel message, as Slack sends it."""
    message = {"type": "message", "ts": post.response["ts"] if post.response else "", "text": ""}
    value = buttons({"blocks": post.json_arg("blocks")})[action_id]
    payload = block_action_payload(
        action_id,
        value,
        user_id=user,
        channel_id=IMPROVE,
        message=message,
        block_id=f"complaint_actions_{value}",
        response_url=app.standin.response_url(name),
    )
    status, _ = app.post(interactive_body(payload))
    assert status == 200


def updates(app: RunningApp) -> list[Call]:
    return app.standin.calls_to("chat.update")


def shown(call: Call) -> str:
    return json.dumps(call.json_arg("blocks")) + json.dumps(call.args.get("text"))


# --- 1. A manager sets the improvement channel ---------------------------------------------


def test_settings_modal_has_the_improvement_channel_and_saving_stores_it(running: RunningApp) -> None:
    command(running, "settings")
    view = opened_view(running)
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert {"improvement_channel", "prompts", "language"} <= set(blocks)
    picker = blocks["improvement_channel"]
    assert picker["optional"] is True and picker["element"]["type"] == "conversations_select"
    assert "initial_conversation" not in picker["element"]
    assert set(picker["element"]["filter"]["include"]) == {"public", "private"}

    # A direct message is no improvement channel: an inline error, nothing stored.
    refused = json.loads(set_channel(running, "D0DM"))
    assert refused["response_action"] == "errors" and "improvement_channel" in refused["errors"]

    assert set_channel(running, IMPROVE, prompts="Which customer noticed our work?") == ""
    with running.db.session() as session:
        assert store.improvement_channel(session, ws_of(running)) == IMPROVE
    [saved] = running.standin.wait_for("chat.postMessage")
    assert saved.args["channel"] == "UBOSS" and f"Complaints go to <#{IMPROVE}>" in saved.args["text"]

    command(running, "settings", name="again")
    again = {b["block_id"]: b for b in opened_view(running, 2)["blocks"]}
    assert again["improvement_channel"]["element"]["initial_conversation"] == IMPROVE
    assert again["prompts"]["element"]["initial_value"] == "Which customer noticed our work?"
    # Nothing was waiting, so nothing was posted.
    assert channel_posts(running, IMPROVE) == []
    assert_calls_match_spec(running.standin.calls)


def test_non_managers_are_refused_settings_and_no_modal_opens(running: RunningApp) -> None:
    command(running, "settings", user="U1", name="rep")
    refusal = reply(running, "rep")
    assert "Only managers can do that" in refusal["text"]
    assert running.standin.calls_to("views.open") == []
    # A forged submission changes nothing either.
    answer = json.loads(set_channel(running, IMPROVE, user="U1"))
    assert answer["response_action"] == "errors" and "Only managers" in answer["errors"]["prompts"]
    with running.db.session() as session:
        assert store.improvement_channel(session, ws_of(running)) is None
    assert running.standin.calls_to("chat.postMessage") == []


# --- 2. The life cycle ----------------------------------------------------------------------


def test_complaint_lands_once_is_owned_resolved_and_its_people_hear_what_changed(
    running: RunningApp,
) -> None:
    standin = running.standin
    assert set_channel(running, IMPROVE) == ""
    standin.wait_for("chat.postMessage")  # the manager's settings confirmation

    log_complaint(running, credited=("U0222", "U0333"))
    # The author's confirmation comes first; the complaint post after it.
    confirmation = reply(running, "log")
    assert confirmation["text"].startswith("Saved.")
    wait_posted(running)
    [post] = channel_posts(running, IMPROVE)
    assert replies(running, "log")[0].received_at <= post.received_at
    blocks = post.json_arg("blocks")
    assert_blocks_valid(blocks)
    text = shown(post)
    assert "Complaint: Acme &lt;!channel&gt; &amp; Co" in text
    assert "&lt;!here&gt;" in text and "&lt;@U0BAD&gt;" in text and "&lt;!everyone&gt;" in text
    assert "What it cost them:" in text and "Head of Finance" in text
    assert "Logged by <@U0REP>" in text and "<@U0222>" in text and "Open." in text
    [(story, complaint)] = stored(running)
    assert buttons({"blocks": blocks}) == {ACTION_OWN: str(story.id), ACTION_RESOLVE: str(story.id)}
    assert post.json_arg("metadata")["event_payload"]["slot"] == marker(story.id)
    assert complaint.state == OPEN and complaint.channel == IMPROVE and complaint.ts == post.response["ts"]
    # Never featured, never in everyone's recent voices: it is not a story to post.
    command(running, "story", name="preview")
    assert "no customer story to post yet" in json.dumps(reply(running, "preview"))

    # I'll own this: recorded with its time, and the message shows the owner.
    press(running, ACTION_OWN, post, "U0OWN", "own1")
    wait_until(lambda: len(updates(running)) == 1)
    [update] = updates(running)
    assert update.args["channel"] == IMPROVE and update.args["ts"] == post.response["ts"]
    assert_blocks_valid(update.json_arg("blocks"))
    assert "Owned by* <@U0OWN>" in shown(update)
    owned = complaint_of(running, story.id)
    assert owned.state == OWNED and owned.owner == "U0OWN" and owned.owned_at is not None
    assert ACTION_RESOLVE in buttons({"blocks": update.json_arg("blocks")})

    # Someone else clicking is told, ephemerally, who owns it; nothing changes.
    press(running, ACTION_OWN, post, "U0LATE", "own2")
    told = reply(running, "own2")
    assert "<@U0OWN> already owns this complaint" in told["text"]
    assert told["response_type"] == "ephemeral" and told["replace_original"] is False
    press(running, ACTION_OWN, post, "U0OWN", "own3")
    assert "You already own this complaint" in reply(running, "own3")["text"]
    assert len(updates(running)) == 1 and complaint_of(running, story.id).owner == "U0OWN"

    # Resolved opens "What did we change?".
    press(running, ACTION_RESOLVE, post, "U0FIX", "fix")
    view = opened_view(running)
    assert view["callback_id"] == RESOLVE_CALLBACK and view["title"]["text"] == "What did we change?"
    assert json.loads(view["private_metadata"]) == {"story_id": story.id}
    assert "&lt;!here&gt;" in json.dumps(view["blocks"])
    meta = view["private_metadata"]
    empty = json.loads(submit(running, RESOLVE_CALLBACK, {"change": "   "}, meta, user="U0FIX"))
    assert empty["response_action"] == "errors" and "change" in empty["errors"]
    assert complaint_of(running, story.id).state == OWNED

    change = "Export retries now <!channel> & we alert on failures"
    assert submit(running, RESOLVE_CALLBACK, {"change": change}, meta, user="U0FIX") == ""
    resolved = complaint_of(running, story.id)
    assert resolved.state == RESOLVED and resolved.resolved_by == "U0FIX" and resolved.change == change
    assert resolved.resolved_at is not None and resolved.owner == "U0OWN"
    wait_until(lambda: len(updates(running)) == 2)
    final = updates(running)[1]
    assert_blocks_valid(final.json_arg("blocks"))
    assert "Resolved* by <@U0FIX>" in shown(final)
    assert "Export retries now &lt;!channel&gt; &amp; we alert" in shown(final)
    assert buttons({"blocks": final.json_arg("blocks")}) == {}

    # The author and the credited colleagues hear what changed, with a nudge; once each.
    for user in (AUTHOR, "U0222", "U0333"):
        wait_until(lambda u=user: len(channel_posts(running, u)) == 1)  # type: ignore[misc]
        [dm] = channel_posts(running, user)
        assert_blocks_valid(dm.json_arg("blocks"))
        body = shown(dm)
        assert "Export retries now &lt;!channel&gt;" in body and "<@U0FIX>" in body
        assert "tell" in body.lower()
    assert "Acme &lt;!channel&gt; &amp; Co" in shown(channel_posts(running, AUTHOR)[0])

    # A second submission (another tab) changes nothing and tells nobody again.
    again = json.loads(submit(running, RESOLVE_CALLBACK, {"change": "other"}, meta, user="U0LATE"))
    assert again["response_action"] == "errors"
    assert complaint_of(running, story.id).resolved_by == "U0FIX"
    press(running, ACTION_RESOLVE, post, "U0LATE", "late")
    assert "already resolved by <@U0FIX>" in reply(running, "late")["text"]
    assert len(standin.calls_to("views.open")) == 1
    assert len(channel_posts(running, IMPROVE)) == 1 and len(updates(running)) == 2
    for user in (AUTHOR, "U0222", "U0333"):
        assert len(channel_posts(running, user)) == 1
    assert_calls_match_spec(standin.calls)


def test_anonymous_complaint_names_no_customer_in_the_channel_nor_to_colleagues(running: RunningApp) -> None:
    with running.db.session() as session:
        store.set_improvement_channel(session, ws_of(running), IMPROVE)
    log_complaint(running, consent="anonymous", credited=("U0222",))
    wait_posted(running)
    [post] = channel_posts(running, IMPROVE)
    text = shown(post)
    assert "Complaint: a customer" in text and "Acme" not in text and "Head of Finance" not in text
    [(story, _)] = stored(running)
    meta = json.dumps({"story_id": story.id})
    assert submit(running, RESOLVE_CALLBACK, {"change": "Fixed it"}, meta, user="U0FIX") == ""
    wait_until(lambda: len(channel_posts(running, "U0222")) == 1)
    assert "Acme" not in shown(channel_posts(running, "U0222")[0])
    # The author knows their customer.
    assert "Acme" in shown(channel_posts(running, AUTHOR)[0])


def test_complaint_posts_once_when_the_connection_drops_after_slack_took_it(running: RunningApp) -> None:
    with running.db.session() as session:
        store.set_improvement_channel(session, ws_of(running), IMPROVE)
    running.standin.drop("chat.postMessage", times=1, store=True)
    log_complaint(running)
    wait_until(lambda: bool(stored(running)) and bool(stored(running)[0][1].ts))
    [(story, complaint)] = stored(running)
    in_channel = running.standin.messages[IMPROVE]
    assert len(in_channel) == 1 and complaint.ts == in_channel[0]["ts"]
    assert in_channel[0]["metadata"]["event_payload"]["slot"] == marker(story.id)
    # The bot looked for it instead of posting blind.
    assert running.standin.calls_to("conversations.history")
    assert reply(running, "log")["text"].startswith("Saved.")
    # Logging another complaint posts that one only.
    log_complaint(running, name="log2", customer="Globex")
    wait_until(lambda: len(running.standin.messages[IMPROVE]) == 2)
    assert "Globex" in json.dumps(running.standin.messages[IMPROVE][1]["blocks"])


def test_complaint_logged_before_any_channel_waits_in_app_home_and_posts_when_set(
    running: RunningApp,
) -> None:
    log_complaint(running, customer="Waiting Inc")
    assert reply(running, "log")["text"].startswith("Saved.")
    # An imported complaint is not posted, ever (but managers see it as open).
    with running.db.session() as session:
        queries.add_story(
            session, ws_of(running), Draft(customer="Imported Ltd", quote="Old news", kind="complaint"), "U2"
        )
    assert running.standin.calls_to("chat.postMessage") == []
    home = texts(open_home(running, "UBOSS"))
    assert "Open complaints: 2" in home
    assert "Waiting Inc* · Complaint" in home and "Imported Ltd* · Complaint" in home
    assert "Open complaints" not in texts(open_home(running, "U1", 2))

    assert set_channel(running, IMPROVE) == ""
    wait_posted(running)
    confirmation = next(
        c for c in running.standin.calls_to("chat.postMessage") if c.args["channel"] == "UBOSS"
    )
    assert "Complaints waiting for that channel: 1" in confirmation.args["text"]
    [post] = channel_posts(running, IMPROVE)
    assert "Waiting Inc" in shown(post) and "Imported" not in shown(post)

    # Saving the settings again posts nothing twice.
    assert set_channel(running, IMPROVE) == ""
    wait_until(
        lambda: (
            len([c for c in running.standin.calls_to("chat.postMessage") if c.args["channel"] == "UBOSS"])
            == 2
        )
    )
    assert len(channel_posts(running, IMPROVE)) == 1

    # Resolved complaints leave the open list.
    [(story, _)] = [s for s in stored(running) if s[0].customer == "Waiting Inc"]
    meta = json.dumps({"story_id": story.id})
    assert submit(running, RESOLVE_CALLBACK, {"change": "Fixed"}, meta, user="UBOSS") == ""
    home = texts(open_home(running, "UBOSS", 3))
    assert "Open complaints: 1" in home and "Imported Ltd* · Complaint" in home
    assert "Waiting Inc* · Complaint" not in home


def test_not_in_channel_keeps_the_complaint_waiting_and_tells_managers_once(running: RunningApp) -> None:
    with running.db.session() as session:
        store.set_improvement_channel(session, ws_of(running), IMPROVE)
    running.standin.error("chat.postMessage", "not_in_channel", channel=IMPROVE)
    log_complaint(running, customer="Refused One")
    # The managers hear once, with the fix.
    wait_until(lambda: len(channel_posts(running, "UBOSS")) == 1)
    log_complaint(running, name="log2", customer="Refused Two")
    # The next complaint tries the waiting one first, is refused again, and stops there.
    wait_until(lambda: len(running.standin.attempts_to("chat.postMessage")) >= 3)
    time.sleep(0.3)
    [told] = channel_posts(running, "UBOSS")
    assert "/invite @Impact" in told.args["text"] and f"<#{IMPROVE}>" in told.args["text"]
    # The author saw their normal confirmation and nothing else.
    for name in ("log", "log2"):
        assert [r.args["text"][:6] for r in replies(running, name)] == ["Saved."]
    assert channel_posts(running, AUTHOR) == []
    assert all(not c.ts for _, c in stored(running))
    assert "Open complaints: 2" in texts(open_home(running, "UBOSS"))

    # Invited now: saving the settings posts both, once each, oldest first.
    running.standin.reset_faults()
    assert set_channel(running, IMPROVE) == ""
    wait_posted(running, 2)
    posted = [shown(p) for p in channel_posts(running, IMPROVE)]
    assert "Refused One" in posted[0] and "Refused Two" in posted[1]
    assert all(c.ts for _, c in stored(running))


def test_editing_a_story_into_a_complaint_posts_it_and_editing_it_again_updates_the_post(
    running: RunningApp,
) -> None:
    with running.db.session() as session:
        ws = ws_of(running)
        store.set_improvement_channel(session, ws, IMPROVE)
        story = queries.add_story(session, ws, Draft(customer="Initech", quote="Fine"), AUTHOR)
    log_complaint(running, story_id=story.id, customer="Initech", quote="Actually, it broke")
    wait_posted(running)
    assert "Actually, it broke" in shown(channel_posts(running, IMPROVE)[0])
    log_complaint(running, name="edit2", story_id=story.id, customer="Initech", quote="It broke twice")
    wait_until(lambda: len(updates(running)) == 1)
    assert "It broke twice" in shown(updates(running)[0])
    assert len(channel_posts(running, IMPROVE)) == 1


def test_two_settings_saves_at_once_post_each_waiting_complaint_once(running: RunningApp) -> None:
    for n in range(3):
        log_complaint(running, name=f"log{n}", customer=f"Customer {n}")
    saves = [threading.Thread(target=set_channel, args=(running, IMPROVE)) for _ in range(2)]
    for thread in saves:
        thread.start()
    for thread in saves:
        thread.join()
    wait_until(lambda: all(c.ts for _, c in stored(running)))
    assert len(running.standin.messages[IMPROVE]) == 3
    markers = [m["metadata"]["event_payload"]["slot"] for m in running.standin.messages[IMPROVE]]
    assert len(set(markers)) == 3


def test_resolve_modal_is_a_valid_view_with_a_limit(running: RunningApp) -> None:
    with running.db.session() as session:
        store.set_improvement_channel(session, ws_of(running), IMPROVE)
    log_complaint(running, quote="<&>" * 1000)
    wait_posted(running)
    [post] = channel_posts(running, IMPROVE)
    assert_blocks_valid(post.json_arg("blocks"))
    press(running, ACTION_RESOLVE, post, "U0FIX", "fix")
    view = opened_view(running)
    View(**view).validate_json()
    [field] = [b for b in view["blocks"] if b.get("block_id") == "change"]
    assert field["element"]["max_length"] == 1000
    meta = view["private_metadata"]
    too_long = json.loads(submit(running, RESOLVE_CALLBACK, {"change": "x" * 1001}, meta, user="U0FIX"))
    assert too_long["response_action"] == "errors" and "1000" in too_long["errors"]["change"]
    junk = json.loads(submit(running, RESOLVE_CALLBACK, {"change": "ok"}, "not json", user="U0FIX"))
    assert junk["response_action"] == "errors"
