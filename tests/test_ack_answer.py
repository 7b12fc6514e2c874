"""A quick log is confirmed in its ack when the story is stored in time, and with an empty ack
plus a response_url post when it is not (bot.deadlines); either way exactly once, over the real
app and HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from storage import queries
from storage.db import Database
from tests.conftest import RunningApp, acked_message, database_locked
from tests.signing import command_body


def quick_log(app: RunningApp, text: str, tag: str, user: str = "U1") -> tuple[int, str, float]:
    started = time.monotonic()
    status, body = app.post(command_body(text=text, user_id=user, response_url=app.standin.response_url(tag)))
    return status, body, time.monotonic() - started


def quotes(db: Database) -> list[str]:
    with db.session() as session:
        ws = queries.workspace_id(session, "T111")
        return sorted(s.quote for s in queries.live_stories(session, ws))


def test_a_quick_log_is_confirmed_in_its_ack_and_nothing_goes_to_response_url(running: RunningApp) -> None:
    status, body, _ = quick_log(running, "Acme: the export saved them a day <!channel>", "q1")
    assert status == 200
    message = acked_message(body)
    shown = json.dumps(message["blocks"])
    assert "the export saved them a day" in shown and "Acme" in shown
    assert "<!channel>" not in shown and "@channel" in shown  # typed text pings nobody
    actions = [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "story_edit" in actions and "story_delete" in actions
    assert message.get("response_type", "ephemeral") == "ephemeral"
    assert quotes(running.db) == ["the export saved them a day @channel"]
    time.sleep(0.3)  # anything sent after the ack would have arrived by now
    assert running.standin.calls_to("response_url") == []


def test_a_story_stored_after_the_deadline_gets_an_empty_ack_in_time_then_one_confirmation(
    running: RunningApp,
) -> None:
    running.services.ack_deadlines.seconds = 0.3
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with database_locked(running.db):
            locked.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert locked.wait(5)
    try:
        timer = threading.Timer(1.0, release.set)  # well inside the busy/statement timeout of 2 s
        timer.start()
        status, body, seconds = quick_log(running, "Acme: worth the wait", "slow")
    finally:
        holder.join(5)
    assert status == 200 and body == "" and seconds < 1.0, (status, body, seconds)
    [reply] = running.standin.wait_for("response_url", 1, timeout=5)
    assert "worth the wait" in json.dumps(reply.args["blocks"]) and "Sorry" not in json.dumps(reply.args)
    assert quotes(running.db) == ["worth the wait"]
    time.sleep(0.3)
    assert len(running.standin.calls_to("response_url")) == 1


def test_a_failure_inside_a_quick_log_gives_the_user_their_words_back_in_the_ack(
    running: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> Any:
        raise RuntimeError("a bug in the parser")

    monkeypatch.setattr("handlers.commands.parse_quick_log", broken)
    status, body, _ = quick_log(running, "Acme: please keep these words", "bug")
    assert status == 200
    shown = json.dumps(acked_message(body))
    assert "Sorry" in shown and "please keep these words" in shown
    assert quotes(running.db) == []


def test_quick_logs_sent_at_once_are_each_stored_and_confirmed_once_in_their_own_ack(
    running: RunningApp,
) -> None:
    def one(n: int) -> tuple[int, dict[str, Any]]:
        status, body, _ = quick_log(running, f"Acme {n}: words number {n}", f"c{n}", user=f"U{n % 5}")
        return status, acked_message(body)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(48)))
    assert all(status == 200 for status, _ in answers)
    for n, (_, message) in enumerate(answers):
        shown = json.dumps(message["blocks"])
        assert f"words number {n}" in shown and f"Acme {n}" in shown  # each its own story
    assert quotes(running.db) == sorted(f"words number {n}" for n in range(48))
    assert running.standin.calls_to("response_url") == []
