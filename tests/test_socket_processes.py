"""Several bot processes in Socket Mode (`python -m bot run`) on one PostgreSQL, against the
Socket Mode stand-in: Slack hands each envelope to one of an app's connections."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select

from domain.schedule import ScheduleSpec
from storage import channels, posts, queries
from storage.db import Database
from storage.models import ReactionRow, ScheduleRow, StoryRow
from tests.signing import command_body
from tests.slack_standin import SlackStandin
from tests.socket_standin import Connection, Envelope, SocketModeStandin
from tests.test_processes import DAYS, claim_status, posts_to, prepare, wait_until

ROOT = Path(__file__).resolve().parents[1]
SWEEP_SECONDS = 2  # how often each process looks for due slots
HELLO = re.compile(
    r"Socket Mode connection (\S+) open in process (\d+) .*\(Slack host applink-standin-(\d+),"
)


class SocketBot:
    """`python -m bot run` in Socket Mode (an app-level token, no signing secret), its output in a file."""

    def __init__(self, tmp: Path, name: str, standin: SlackStandin, database_url: str, **env: str) -> None:
        self.name = name
        self.log = tmp / f"{name}.log"
        full = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPACT_", "DATABASE_"))}
        full.update(
            {
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_APP_TOKEN": "xapp-1-A0STANDIN-1-test",
                "SLACK_API_URL": standin.base_url,
                "DATABASE_URL": database_url,
                "IMPACT_MANAGERS": "UBOSS",
                "IMPACT_SWEEP_SECONDS": str(SWEEP_SECONDS),
                "PYTHONPATH": str(ROOT),
                "LOG_LEVEL": "INFO",
                **env,
            }
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp,
            env=full,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def connections(self) -> list[tuple[str, int]]:
        """(session id, stand-in connection number) of each connection this process said it opened."""
        found = [m.groups() for m in HELLO.finditer(self.output())]
        assert all(int(pid) == self.proc.pid for _, pid, _ in found), self.output()
        return [(session, int(number)) for session, _, number in found]

    def connection(self, socket_mode: SocketModeStandin) -> Connection:
        """The stand-in's end of the connection this process holds now."""
        number = self.connections()[-1][1]
        return next(c for c in socket_mode.connections if c.number == number)

    def wait_connected(self, count: int = 1, timeout: float = 30) -> None:
        """Until this process has logged `count` connections (its first, then each reconnect)."""

        def connected() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.output()}")
            return len(self.connections()) >= count

        wait_until(connected, timeout, f"{self.name}'s connection number {count}")

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()

    def wait_stopped(self) -> None:
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def socket_mode(standin: SlackStandin) -> Iterator[SocketModeStandin]:
    with SocketModeStandin() as server:
        server.serve(standin)
        yield server


@pytest.fixture
def two_bots(
    request: Any, tmp_path: Path, standin: SlackStandin, socket_mode: SocketModeStandin, pg_url: str
) -> Iterator[Any]:
    """Two Socket Mode processes on one fresh PostgreSQL database, both connected (env: the param)."""
    db = prepare(pg_url, "C1", None)
    env = getattr(request, "param", {})
    bots = [SocketBot(tmp_path, name, standin, pg_url, **env) for name in ("a", "b")]
    try:
        for bot in bots:
            bot.wait_connected()
        socket_mode.wait_for_connections(2)
        yield bots, db
    finally:
        for bot in bots:
            bot.terminate()  # all at once: each takes a moment to close its connection
        for bot in bots:
            bot.wait_stopped()
        db.dispose()


def quick_log(
    socket_mode: SocketModeStandin, standin: SlackStandin, n: int, user: str = "U0AUTHOR"
) -> Envelope:
    """`/impact Customer N: quote N` as a slash_commands envelope, with response_url qN (which
    should get nothing: the confirmation travels in the envelope's ack, see confirmed_once)."""
    body = command_body(
        text=f"Customer {n}: they shipped {n} days early",
        user_id=user,
        response_url=standin.response_url(f"q{n}"),
        trigger_id=f"trig-{n}",
    )
    return socket_mode.slash_command(dict(parse_qsl(body)))


def confirmed_once(envelopes: list[Envelope], standin: SlackStandin) -> None:
    """Each quick log envelope (made by quick_log) was acked once, and its ack's payload is its
    confirmation (bot.deadlines: Bolt sends the ack's body as the envelope ack's payload); no
    response_url got anything, so none was confirmed twice."""
    for envelope in envelopes:
        [ack] = envelope.acks
        assert ack.payload is not None, f"{envelope.payload['text']!r} was acked empty"
        confirmation = json.dumps(ack.payload)
        quote = envelope.payload["text"].partition(": ")[2]  # "they shipped N days early"
        assert quote and quote in confirmation and "story_edit" in confirmation, confirmation[:400]
        assert ack.payload.get("text"), ack.payload  # the notification text beside the blocks
    assert standin.attempts_to("response_url") == []  # not even a failed one


def holds_until(predicate: Any, deadline: float, what: str) -> None:
    """Poll that predicate() stays true until the monotonic deadline; fail as soon as it does not."""
    while True:
        assert predicate(), what
        if time.monotonic() >= deadline:
            return
        time.sleep(0.2)


def stored_quotes(db: Database) -> Counter[str]:
    with db.session() as s:
        return Counter(s.scalars(select(StoryRow.quote).where(StoryRow.customer.like("Customer %"))))


def schedule_due_now(db: Database, channel: str) -> None:
    """A story schedule whose slot passed two minutes ago, so every process's next sweep finds it due."""
    slot = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    with db.session() as s:
        ws = queries.workspace_id(s, "T111")
        spec = ScheduleSpec("story", (DAYS[slot.weekday()],), f"{slot:%H:%M}", "UTC")
        channels.set_channel_schedules(s, ws, channel, [spec])
        for row in s.scalars(select(ScheduleRow)):
            row.created_at = slot - timedelta(hours=1)


def test_each_envelope_goes_to_one_process_and_each_slot_posts_once(
    two_bots: Any, standin: SlackStandin, socket_mode: SocketModeStandin
) -> None:
    (a, b), db = two_bots
    # Each process says which connection it holds, and they hold different ones.
    assert {a.connections()[0][1], b.connections()[0][1]} == {1, 2}
    assert a.connections()[0][0] != b.connections()[0][0]

    schedule_due_now(db, "C1")  # both processes race for this slot while the quick logs come in
    due_at = time.monotonic()
    envelopes = [quick_log(socket_mode, standin, n) for n in range(100)]
    socket_mode.wait_for_acks(envelopes, timeout=60)
    wait_until(lambda: len(posts_to(standin, "C1")) >= 1, 30, "the scheduled post")
    posted_at = time.monotonic()

    # Slack's side: each envelope went to one connection, which acked it once; both took a share.
    assert all(len(e.deliveries) == 1 and len(e.acks) == 1 for e in envelopes)
    assert all(e.acks[0].connection == e.deliveries[0][0] for e in envelopes)
    assert Counter(e.deliveries[0][0] for e in envelopes) == {1: 50, 2: 50}
    # Ours: each quick log stored once, each confirmed once, in its own envelope's ack.
    assert stored_quotes(db) == Counter({f"they shipped {n} days early": 1 for n in range(100)})
    confirmed_once(envelopes, standin)
    # And the slot went out once, from one of the two: each has swept a few times since it was due.
    sweeps_later = max(due_at, posted_at) + 3 * SWEEP_SECONDS
    holds_until(lambda: len(posts_to(standin, "C1")) == 1, sweeps_later, "one post to C1")
    assert claim_status(db) == ["posted"]
    confirmed_once(envelopes, standin)  # still: no confirmation came late through response_url
    assert sum("posted slot" in bot.output() for bot in (a, b)) == 1


@pytest.mark.parametrize("two_bots", [{"LOG_LEVEL": "DEBUG"}], ids=["debug"], indirect=True)
def test_an_event_delivered_again_to_the_other_process_counts_once(
    two_bots: Any, standin: SlackStandin, socket_mode: SocketModeStandin
) -> None:
    (a, b), db = two_bots
    ts = standin.add_message("C1", "Customer of the week", user="UBOT")
    with db.session() as s:
        posts.add_post(s, queries.workspace_id(s, "T111"), "C1", ts, "story")
    standin.reactions[("C1", ts)] = [{"name": "tada", "users": ["U2"], "count": 1}]
    event = {
        "type": "reaction_added",
        "user": "U2",
        "reaction": "tada",
        "item": {"type": "message", "channel": "C1", "ts": ts},
        "item_user": "UBOT",
        "event_ts": ts,
    }
    first = socket_mode.event(event, "T111", connection=a.connection(socket_mode))
    socket_mode.wait_for_acks([first])
    # Slack did not hear the ack in time (as it may think) and retries on the other connection.
    socket_mode.redeliver(first, connection=b.connection(socket_mode))
    socket_mode.wait_until(lambda: len(first.acks) == 2, 30, "the retry's ack")
    outcome = re.compile(rf"reaction tada by U2 on C1/{re.escape(ts)} (already counted|counted)")
    wait_until(lambda: outcome.search(a.output()) and outcome.search(b.output()), 30, "both to handle it")

    # Whichever got there first counted it; the other found it counted.
    assert sorted(outcome.findall(a.output()) + outcome.findall(b.output())) == ["already counted", "counted"]
    assert standin.calls_to("reactions.get")  # a retry asks Slack whether the reaction is still there
    assert first.deliveries == [(a.connection(socket_mode).number, 0), (b.connection(socket_mode).number, 1)]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ReactionRow)) == 1


@pytest.mark.parametrize("how", ["disconnect", "reset"])
def test_a_dropped_connection_reconnects_and_keeps_working(
    two_bots: Any, standin: SlackStandin, socket_mode: SocketModeStandin, how: str
) -> None:
    (a, b), db = two_bots
    opened = len(standin.calls_to("apps.connections.open"))
    dropped = a.connection(socket_mode)
    socket_mode.drop(dropped, how)

    # While a reconnects, Slack hands everything to b.
    meanwhile = [quick_log(socket_mode, standin, n) for n in range(10)]
    a.wait_connected(2, timeout=60)
    socket_mode.wait_for_connections(2)
    after = [quick_log(socket_mode, standin, n) for n in range(10, 30)]
    socket_mode.wait_for_acks(meanwhile + after, timeout=60)

    # a asked for a new URL (a ticket is good once) and holds a new connection.
    assert len(standin.calls_to("apps.connections.open")) == opened + 1
    assert not socket_mode.refused
    again = a.connection(socket_mode)
    assert again.number not in (dropped.number, b.connection(socket_mode).number)
    assert {e.acks[0].connection for e in after} == {again.number, b.connection(socket_mode).number}
    assert all(len(e.acks) == 1 for e in meanwhile + after)
    assert stored_quotes(db) == Counter({f"they shipped {n} days early": 1 for n in range(30)})
    confirmed_once(meanwhile + after, standin)


def test_a_refused_handshake_stops_the_start_with_one_line(
    tmp_path: Path, standin: SlackStandin, socket_mode: SocketModeStandin, sqlite_url: str
) -> None:
    # A ticket Slack no longer honours: the WebSocket upgrade is answered 401, not 101.
    standin.answer(
        "apps.connections.open", {"ok": True, "url": f"ws://127.0.0.1:{socket_mode.port}/link/?ticket=old"}
    )
    bot = SocketBot(tmp_path, "refused", standin, sqlite_url)
    assert bot.proc.wait(30) == 1
    assert socket_mode.refused and set(socket_mode.refused) == {"old"}  # its monitor may try once more
    [line] = bot.output().strip().splitlines()[-1:]
    assert line.startswith(
        "impact-bot: Socket Mode: cannot open the WebSocket to Slack (the handshake was refused)"
    )
    assert "connected to Slack" not in bot.output()


def test_sigterm_closes_the_connection_and_the_other_process_takes_over(
    two_bots: Any, standin: SlackStandin, socket_mode: SocketModeStandin
) -> None:
    (a, b), db = two_bots
    held = a.connection(socket_mode)
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(15) == 0, a.output()
    assert "stopped" in a.output().splitlines()[-1]
    assert "Traceback" not in a.output()
    socket_mode.wait_until(lambda: not held.open, 10, "the stand-in to see the connection closed")

    envelopes = [quick_log(socket_mode, standin, n) for n in range(10)]
    socket_mode.wait_for_acks(envelopes)
    assert {e.acks[0].connection for e in envelopes} == {b.connection(socket_mode).number}
    assert sum(stored_quotes(db).values()) == 10
    confirmed_once(envelopes, standin)
