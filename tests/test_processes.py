"""Real bot processes (`python -m bot run`) against the Slack stand-in: kill, restart, two at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domain.schedule import ScheduleSpec
from domain.story import Draft
from storage import channels, queries
from storage.db import Database
from storage.models import ScheduleRow, SlotClaim
from tests.conftest import SECRET, acked_message
from tests.signing import interactive_body, post_signed, view_submission_payload
from tests.slack_standin import SlackStandin

ROOT = Path(__file__).resolve().parents[1]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BotProcess:
    """`python -m bot run` in HTTP mode, its output in a log file."""

    def __init__(self, tmp: Path, name: str, standin: SlackStandin, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.log = tmp / f"{name}.log"
        full = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPACT_", "DATABASE_"))}
        full.update(
            {
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": standin.base_url,
                "DATABASE_URL": database_url,
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "IMPACT_MANAGERS": "UBOSS",
                "IMPACT_SWEEP_SECONDS": "2",
                "PYTHONPATH": str(ROOT),
                "LOG_LEVEL": "INFO",
            }
        )
        full.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp,
            env=full,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"bot exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"bot not healthy: {self.log.read_text()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def bots(tmp_path: Path) -> Iterator[Any]:
    started: list[BotProcess] = []

    def start(name: str, standin: SlackStandin, url: str, **env: str) -> BotProcess:
        bot = BotProcess(tmp_path, name, standin, url, **env)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


def prepare(url: str, channel: str, slot: datetime | None) -> Database:
    """Migrate, add a story and (when slot is given) a story schedule at that UTC minute."""
    db = Database(url)
    db.migrate()
    with db.session() as s:
        ws = queries.workspace_id(s, "T111")
        queries.add_story(s, ws, Draft(customer="Acme", quote="It works"), "U0AUTHOR")
        if slot is not None:
            spec = ScheduleSpec("story", (DAYS[slot.weekday()],), f"{slot:%H:%M}", "UTC")
            channels.set_channel_schedules(s, ws, channel, [spec])
    if slot is not None:
        with db.session() as s:
            for row in s.scalars(select(ScheduleRow)):
                row.created_at = slot - timedelta(hours=1)
    return db


def claim_status(db: Database) -> list[str]:
    with db.session() as s:
        return [c.status for c in s.scalars(select(SlotClaim))]


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def posts_to(standin: SlackStandin, channel: str) -> list[Any]:
    return [c for c in standin.attempts_to("chat.postMessage") if c.args.get("channel") == channel]


def test_killed_mid_post_the_slot_is_not_doubled_after_restart(
    bots: Any, standin: SlackStandin, sqlite_url: str
) -> None:
    slot = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    db = prepare(sqlite_url, "C1", slot)
    # Slack receives the post but the process dies before it hears back.
    standin.delay("chat.postMessage", 30)
    first = bots("first", standin, sqlite_url)
    wait_until(lambda: len(posts_to(standin, "C1")) == 1, 30, "the first post to reach Slack")
    first.kill()
    assert claim_status(db) == ["claimed"]
    standin.delay("chat.postMessage", 0)
    second = bots("second", standin, sqlite_url, IMPACT_SLOT_LEASE_SECONDS="1")
    second.wait_healthy()
    wait_until(lambda: claim_status(db) == ["posted"], 20, "the restarted bot to settle the slot")
    time.sleep(3)  # a few more sweeps
    assert len(posts_to(standin, "C1")) == 1
    assert standin.calls_to("conversations.history")
    db.dispose()


def test_killed_before_posting_the_slot_goes_out_once_after_restart(
    bots: Any, standin: SlackStandin, sqlite_url: str
) -> None:
    slot = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    db = prepare(sqlite_url, "C1", slot)
    # Slack is unreachable for the first process: its claim stays behind when it is killed.
    standin.fail("chat.postMessage", status=503, times=None)
    first = bots("first", standin, sqlite_url, IMPACT_SLOT_LEASE_SECONDS="3600")
    wait_until(lambda: len(posts_to(standin, "C1")) >= 1, 30, "the first attempt")
    first.kill()
    standin.reset_faults()
    second = bots("second", standin, sqlite_url, IMPACT_SLOT_LEASE_SECONDS="1")
    second.wait_healthy()
    wait_until(lambda: claim_status(db) == ["posted"], 30, "the slot to be posted")
    time.sleep(3)
    assert len(standin.calls_to("chat.postMessage")) >= 1
    assert len([c for c in standin.calls_to("chat.postMessage") if c.args.get("channel") == "C1"]) == 1
    db.dispose()


def test_two_processes_manager_sets_next_minute_exactly_one_story(
    bots: Any, standin: SlackStandin, pg_url: str
) -> None:
    db = prepare(pg_url, "C1", None)
    a = bots("a", standin, pg_url)
    b = bots("b", standin, pg_url)
    a.wait_healthy()
    b.wait_healthy()
    now = datetime.now(UTC)
    slot = now.replace(second=0, microsecond=0) + timedelta(minutes=1 if now.second < 45 else 2)

    def picked(values: tuple[str, ...]) -> dict[str, Any]:
        return {"value": {"type": "checkboxes", "selected_options": [{"value": v} for v in values]}}

    def text(value: str) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value}}

    state = {
        "story_days": picked((DAYS[slot.weekday()],)),
        "story_time": text(f"{slot:%H:%M}"),
        "prompt_days": picked(()),
        "prompt_time": text(""),
        "timezone": text("UTC"),
        "skip_dates": text(""),
        "tags": text(""),
        "language": {"value": {"type": "static_select", "selected_option": None}},
    }
    payload = view_submission_payload(
        "schedule_modal", state, private_metadata=json.dumps({"channel": "C1"}), user_id="UBOSS"
    )
    status, body = post_signed(a.url + "/slack/events", SECRET, interactive_body(payload))
    assert status == 200 and body == "", body
    wait_until(
        lambda: len(posts_to(standin, "C1")) >= 1, (slot - datetime.now(UTC)).total_seconds() + 30, "post"
    )
    [post] = posts_to(standin, "C1")
    assert post.received_at >= slot.timestamp() - 1
    time.sleep(6)  # both processes sweep again, several times
    assert len(posts_to(standin, "C1")) == 1
    assert claim_status(db) == ["posted"]
    db.dispose()


def test_socket_mode_is_used_when_an_app_token_is_set(
    bots: Any, standin: SlackStandin, sqlite_url: str
) -> None:
    from tests.socket_standin import SocketModeStandin

    with SocketModeStandin() as socket_mode:
        socket_mode.serve(standin)  # a WebSocket end that greets the bot as Slack does
        bot = bots("socket", standin, sqlite_url, SLACK_APP_TOKEN="xapp-1-test", SLACK_SIGNING_SECRET="")
        [call] = standin.wait_for("apps.connections.open", 1, timeout=30)[:1]
        assert call.token == "xapp-1-test"
        assert socket_mode.wait_for_connections(1)  # connected
        assert bot.proc.poll() is None  # still running, not serving HTTP
        with pytest.raises(OSError):
            urllib.request.urlopen(bot.url + "/healthz", timeout=1)


def test_sigterm_in_http_mode_finishes_the_work_in_hand_and_exits_cleanly(
    bots: Any, standin: SlackStandin, db_url: str
) -> None:
    from tests.signing import command_body

    bot = bots("http", standin, db_url)
    bot.wait_healthy()
    # A quick log is stored and confirmed within its ack: no work is left after it.
    body = command_body(text="Acme: It works", response_url=standin.response_url("log"))
    status, acked = post_signed(bot.url + "/slack/events", SECRET, body)
    assert status == 200 and acked_message(acked)["text"].startswith("Saved")
    # `/impact list` answers after its empty ack: that reply is in flight (Slack takes 2 s to
    # answer it) when the stop comes.
    standin.delay("response_url", 2.0)
    body = command_body(text="list", response_url=standin.response_url("stop"))
    assert post_signed(bot.url + "/slack/events", SECRET, body) == (200, "")
    [reply] = standin.wait_for("response_url", 1, timeout=10)
    assert reply.path == "/respond/stop" and "It works" in json.dumps(reply.args["blocks"])
    bot.proc.send_signal(signal.SIGTERM)
    assert bot.proc.wait(20) == 0, bot.log.read_text()
    output = bot.log.read_text()
    assert output.strip().splitlines()[-1].endswith("stopped"), output
    assert "Traceback" not in output and "could not answer" not in output, output
    db = Database(db_url)
    with db.session() as s:
        assert [st.customer for st in queries.live_stories(s, queries.workspace_id(s, "T111"))] == ["Acme"]
    db.dispose()
