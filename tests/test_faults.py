"""A hostile network: answers lost after Slack took a post, hanging calls, 429 storms.

Each test runs the real app over HTTP (or the real scheduler) against the Slack stand-in,
which can drop a connection after carrying a call out, answer 5xx after storing a post, or
hang. What users notice is asserted: how many posts the channel got, and what they were told.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.http_retry import builtin_handlers
from sqlalchemy import select

from bot import delivery
from domain.schedule import ChannelSchedule, ScheduleSpec
from domain.story import Draft
from storage import channels, queries
from storage.db import Database
from storage.models import SlotClaim
from tests.conftest import RunningApp, acked_message
from tests.signing import (
    block_action_payload,
    command_body,
    interactive_body,
    view_submission_payload,
)
from tests.slack_standin import Call, SlackStandin
from tests.test_slots import MONDAY_9, scheduler, setup_channel


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pauses before reading the history are for Slack's sake; here they only cost time.
    monkeypatch.setattr(delivery, "BACKOFF_SECONDS", (0.05, 0.1))
    monkeypatch.setattr(builtin_handlers, "random", SimpleNamespace(random=lambda: 0.0))


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def add_story(db: Database, customer: str = "Acme", quote: str = "It saved us a week") -> None:
    with db.session() as s:
        ws = queries.workspace_id(s, "T111")
        queries.add_story(s, ws, Draft(customer=customer, quote=quote), "U0AUTH", channel="C1")


def in_channel(standin: SlackStandin, channel: str) -> list[dict[str, Any]]:
    """What the channel holds now, as its members would see it."""
    return list(standin.messages.get(channel, []))


def replies(app: RunningApp, name: str) -> list[Call]:
    return [c for c in app.standin.calls_to("response_url") if c.path == f"/respond/{name}"]


def reply_text(app: RunningApp, name: str, count: int = 1, timeout: float = 5.0) -> str:
    wait_until(lambda: len(replies(app, name)) >= count, timeout)
    args = replies(app, name)[count - 1].args
    return str(args.get("text", "")) + json.dumps(args.get("blocks") or [])


def preview_post_value(app: RunningApp) -> str:
    status, _ = app.post(
        command_body(text="story", user_id="UBOSS", response_url=app.standin.response_url("cmd"))
    )
    assert status == 200
    wait_until(lambda: len(replies(app, "cmd")) >= 1)
    blocks = replies(app, "cmd")[0].args["blocks"]
    return next(
        e["value"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if "post" in e["action_id"]
    )


def click_post(app: RunningApp, value: str, name: str = "preview") -> None:
    payload = block_action_payload(
        "preview_post",
        value,
        user_id="UBOSS",
        block_id="preview_actions",
        response_url=app.standin.response_url(name),
    )
    assert app.post(interactive_body(payload))[0] == 200


# --- exactly once when the answer is lost -----------------------------------------------------


def test_on_demand_post_whose_answer_is_lost_appears_once_and_the_manager_knows(running: RunningApp) -> None:
    add_story(running.db)
    value = preview_post_value(running)
    # Slack stores the post, then every connection drops before its answer arrives.
    running.standin.drop("chat.postMessage", times=3, store=True)
    click_post(running, value)
    told = reply_text(running, "preview")
    assert len(in_channel(running.standin, "C1")) == 1
    assert "the story is in <#C1>" in told and "archives/C1" in told
    # The same button again: still one post, and the manager is told so.
    click_post(running, value)
    assert "already posted" in reply_text(running, "preview", 2)
    assert len(in_channel(running.standin, "C1")) == 1


def test_on_demand_post_behind_5xx_after_storing_appears_once(running: RunningApp) -> None:
    add_story(running.db)
    value = preview_post_value(running)
    running.standin.fail("chat.postMessage", status=500, times=1, store=True)
    click_post(running, value)
    assert "the story is in <#C1>" in reply_text(running, "preview")
    assert len(in_channel(running.standin, "C1")) == 1


def test_a_post_that_never_arrived_is_sent_again_once(running: RunningApp) -> None:
    add_story(running.db)
    value = preview_post_value(running)
    running.standin.drop("chat.postMessage", times=1, store=False)
    running.standin.fail("chat.postMessage", status=500, times=1, store=False)
    click_post(running, value)
    assert "Posted in <#C1>" in reply_text(running, "preview")
    assert len(in_channel(running.standin, "C1")) == 1


def test_when_slack_cannot_say_the_manager_is_told_and_a_second_click_checks_first(
    running: RunningApp,
) -> None:
    add_story(running.db)
    value = preview_post_value(running)
    running.standin.drop("chat.postMessage", times=1, store=True)
    running.standin.fail("conversations.history", status=503, times=None)
    click_post(running, value)
    told = reply_text(running, "preview", timeout=15)
    assert "can't tell whether the story reached <#C1>" in told
    assert len(in_channel(running.standin, "C1")) == 1
    # Slack answers again; the manager clicks Post once more: the bot looks first.
    running.standin.reset_faults()
    click_post(running, value)
    assert "the story is in <#C1>" in reply_text(running, "preview", 2)
    assert len(in_channel(running.standin, "C1")) == 1


def test_home_post_now_whose_answer_is_lost_appears_once(running: RunningApp) -> None:
    add_story(running.db)
    with running.db.session() as s:
        ws = queries.workspace_id(s, "T111")
        channels.set_channel_schedules(s, ws, "C1", [ScheduleSpec("story", ("mon",), "09:00", "UTC")])
    value = json.dumps({"c": "C1", "n": datetime.now(UTC).isoformat()})
    running.standin.drop("chat.postMessage", times=1, store=True)
    payload = block_action_payload(
        "home_post_now", value, user_id="UBOSS", channel_id=None, view={"id": "VHOME"}
    )
    assert running.post(interactive_body(payload))[0] == 200
    wait_until(
        lambda: any(c.args.get("channel") == "UBOSS" for c in running.standin.calls_to("chat.postMessage"))
    )
    dm = next(c for c in running.standin.calls_to("chat.postMessage") if c.args.get("channel") == "UBOSS")
    assert "the story is in <#C1>" in dm.args["text"]
    assert len(in_channel(running.standin, "C1")) == 1


def test_scheduled_slot_whose_answer_is_lost_posts_once(any_db: Database, standin: SlackStandin) -> None:
    setup_channel(any_db, "C1")
    add_story(any_db)
    standin.drop("chat.postMessage", times=2, store=True)
    worker = scheduler(standin, any_db)
    result = worker.sweep(sq_schedules(any_db), now=MONDAY_9 + timedelta(seconds=5))
    assert list(result.values()) == ["posted"]
    worker.sweep(sq_schedules(any_db), now=MONDAY_9 + timedelta(minutes=1))
    assert len(in_channel(standin, "C1")) == 1
    [claim] = claims(any_db)
    assert claim.status == "posted" and claim.message_ts == in_channel(standin, "C1")[0]["ts"]


def test_scheduled_slot_when_slack_cannot_say_waits_for_the_next_sweep_and_never_doubles(
    db: Database, standin: SlackStandin
) -> None:
    setup_channel(db, "C1")
    add_story(db)
    standin.drop("chat.postMessage", times=1, store=True)
    standin.fail("conversations.history", status=500, times=None)
    worker = scheduler(standin, db)
    assert list(worker.sweep(sq_schedules(db), now=MONDAY_9 + timedelta(seconds=5)).values()) == ["retry"]
    # Still unreadable at the next sweep: nothing is sent blind.
    assert list(worker.sweep(sq_schedules(db), now=MONDAY_9 + timedelta(minutes=1)).values()) == ["retry"]
    standin.reset_faults()
    assert list(worker.sweep(sq_schedules(db), now=MONDAY_9 + timedelta(minutes=2)).values()) == ["found"]
    assert len(in_channel(standin, "C1")) == 1
    assert claims(db)[0].status == "posted"


def sq_schedules(db: Database) -> list[ChannelSchedule]:
    with db.session() as s:
        return channels.list_schedules(s)


def claims(db: Database) -> list[SlotClaim]:
    with db.session() as s:
        return list(s.scalars(select(SlotClaim)))


# --- no stall, no silent failure ----------------------------------------------------------------


def test_five_hanging_views_open_leave_quick_logs_acked_and_confirmed(running: RunningApp) -> None:
    standin = running.standin
    standin.delay("views.open", 20)
    started = time.monotonic()
    slow = [
        threading.Thread(
            target=running.post,
            args=(command_body(text="", user_id=f"USLOW{n}", response_url=standin.response_url(f"slow{n}")),),
        )
        for n in range(5)
    ]
    for thread in slow:
        thread.start()
    wait_until(lambda: len(standin.attempts_to("views.open")) == 5)
    timings: list[float] = []
    acks: list[str] = []
    for n in range(10):
        sent = time.monotonic()
        status, body = running.post(
            command_body(
                text=f"Customer {n}: fast as ever",
                user_id=f"UQ{n}",
                response_url=standin.response_url(f"q{n}"),
            )
        )
        timings.append(time.monotonic() - sent)
        assert status == 200
        acks.append(body)
    assert max(timings) < 3, timings
    # Each quick log is confirmed in its own ack, with its own story; nothing by response_url.
    for n, body in enumerate(acks):
        confirmation = json.dumps(acked_message(body))
        assert "Saved" in confirmation and f"Customer {n}" in confirmation
        assert replies(running, f"q{n}") == []
    # The hanging calls hit their deadline and each user is told, with their text kept.
    for n in range(5):
        assert "didn't answer in time" in reply_text(running, f"slow{n}", timeout=20)
    for thread in slow:
        thread.join()
    assert time.monotonic() - started < 25


def test_views_open_dropped_tells_the_user_and_keeps_their_text(running: RunningApp) -> None:
    running.standin.drop("views.open", times=1, store=False)
    status, _ = running.post(
        command_body(text="they loved the new export", response_url=running.standin.response_url("x"))
    )
    assert status == 200
    told = reply_text(running, "x")
    assert "didn't answer in time" in told and "they loved the new export" in told
    assert len(running.standin.attempts_to("views.open")) == 1  # a trigger is never used twice


# --- a question before the ack ------------------------------------------------------------------


def edit_someone_elses_story(app: RunningApp) -> tuple[int, str, float]:
    with app.db.session() as s:
        ws = queries.workspace_id(s, "T111")
        story = queries.add_story(
            s, ws, Draft(customer="Acme", quote="Original words"), "U0AUTH", channel="C1"
        )
    values = {
        "customer": {"value": {"type": "plain_text_input", "value": "Acme"}},
        "quote": {"value": {"type": "plain_text_input", "value": "Edited words, typed with care"}},
    }
    meta = json.dumps({"story_id": story.id, "channel": "C1"})
    payload = view_submission_payload("story_modal", values, private_metadata=meta, user_id="UADMIN")
    started = time.monotonic()
    status, body = app.post(interactive_body(payload))
    return status, body, time.monotonic() - started


@pytest.mark.parametrize("fault", ["429", "slow"])
def test_modal_submitted_while_slack_rate_limits_the_rights_check_is_never_lost(
    running: RunningApp, fault: str
) -> None:
    if fault == "429":
        running.standin.fail("users.info", status=429, times=None, retry_after=4)
    else:
        running.standin.delay("users.info", 10)
    status, body, took = edit_someone_elses_story(running)
    assert status == 200 and took < 3, took
    answer = json.loads(body)
    # The modal stays open with an inline error: the edit is still in the user's hands.
    assert answer["response_action"] == "errors"
    assert "couldn't check your manager rights" in json.dumps(answer["errors"])
    with running.db.session() as s:
        [story] = queries.live_stories(s, queries.workspace_id(s, "T111"))
    assert story.quote == "Original words"
    # When Slack answers again, the same submission goes through for an admin.
    running.standin.reset_faults()
    running.standin.users["UADMIN"] = {"is_admin": True}
    status, body, _ = edit_someone_elses_story(running)
    assert status == 200 and body == ""


# --- workspaces only where they belong ----------------------------------------------------------


def test_a_signed_request_from_another_team_creates_no_workspace(running: RunningApp) -> None:
    for team in ("T999", "", "T111<script>"):
        status, body = running.post(
            command_body(
                text="Acme: from elsewhere", team_id=team, response_url=running.standin.response_url("o")
            )
        )
        assert status == 200
    wait_until(lambda: len(replies(running, "o")) >= 3)
    assert all("another workspace" in c.args.get("text", "") for c in replies(running, "o"))
    with running.db.session() as s:
        assert [key.team_id for key in queries.workspaces(s)] in ([], ["T111"])
