"""bot.deadlines: a request is acked once, with its answer when it is ready in time, and empty
by the watchdog when it is not, the answer then following through response_url."""

from __future__ import annotations

import threading
import time
from typing import Any

from bot.deadlines import AckDeadlines, OnceAck, Reply


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.when: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, **message: Any) -> None:
        with self.lock:
            self.calls.append(message)
            self.when.append(time.monotonic())


def wait_until(check: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_once_ack_acks_once_however_many_threads_race() -> None:
    ack = Recorder()
    once = OnceAck(ack)
    wins: list[bool] = []
    threads = [threading.Thread(target=lambda i=i: wins.append(once(text=str(i)))) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1 and len(ack.calls) == 1 and once.answered


def test_an_answer_ready_in_time_travels_in_the_ack_and_the_watchdog_adds_nothing() -> None:
    deadlines = AckDeadlines(0.05)
    ack, respond = Recorder(), Recorder()
    reply = Reply(deadlines.watch(ack), respond)
    reply(blocks=[{"type": "divider"}], text="Saved")
    wait_until(lambda: deadlines.pending() == 0)
    assert ack.calls == [{"blocks": [{"type": "divider"}], "text": "Saved"}]
    assert respond.calls == [] and reply.sent


def test_a_late_answer_gets_an_empty_ack_at_the_deadline_then_goes_through_respond() -> None:
    deadlines = AckDeadlines(0.1)
    ack, respond = Recorder(), Recorder()
    started = time.monotonic()
    reply = Reply(deadlines.watch(ack), respond)
    wait_until(lambda: ack.calls)
    assert ack.calls == [{}]
    assert 0.09 <= ack.when[0] - started < 1.0
    reply(text="Saved late")
    assert respond.calls == [{"text": "Saved late"}] and len(ack.calls) == 1


def test_nothing_yet_acks_empty_and_the_answer_follows_through_respond() -> None:
    ack, respond = Recorder(), Recorder()
    reply = Reply(AckDeadlines(10).watch(ack), respond)
    reply.nothing_yet()
    reply.nothing_yet()
    reply(text="Could not open the form")
    assert ack.calls == [{}] and respond.calls == [{"text": "Could not open the form"}]


def test_many_requests_each_get_exactly_one_ack_in_deadline_order() -> None:
    deadlines = AckDeadlines(0.05)
    acks = [Recorder() for _ in range(200)]
    onces = [deadlines.watch(a) for a in acks]
    for once in onces[::2]:  # half answer in time
        once(text="in time")
    wait_until(lambda: all(a.calls for a in acks))
    assert all(len(a.calls) == 1 for a in acks)
    assert [a.calls[0] for a in acks[::2]] == [{"text": "in time"}] * 100
    assert [a.calls[0] for a in acks[1::2]] == [{}] * 100
    late = [a.when[0] for a in acks[1::2]]
    assert late == sorted(late)
    wait_until(lambda: deadlines.pending() == 0)


def test_the_watchdog_survives_an_ack_that_raises() -> None:
    deadlines = AckDeadlines(0.02)

    def broken(**_: Any) -> None:
        raise RuntimeError("the connection is gone")

    deadlines.watch(broken)
    after = Recorder()
    deadlines.watch(after)
    wait_until(lambda: after.calls)
    assert after.calls == [{}]
