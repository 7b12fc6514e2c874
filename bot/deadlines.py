"""An answer in the ack when it is ready in time, an empty ack when it is not.

Slack waits 3 seconds for an ack. A quick log's confirmation is ready in a millisecond or two
(one INSERT), so it travels in the ack itself: the user sees it as soon as Slack has the ack,
and no second HTTP call (to `response_url`) can fail or cost anything. When the database or
Slack is slow, the watchdog here acks empty at the deadline, and the answer follows through
`response_url`, as every slow answer does.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("impact.deadlines")

# From the moment a listener starts. Slack's 3 seconds began when it sent the request, and
# the request may have waited for a free HTTP thread before that: half is left for the queue.
ACK_BUDGET_SECONDS = 1.5


class OnceAck:
    """Acks a request once: with the listener's answer, or empty from the watchdog, whichever
    comes first. Calling it again does nothing and returns False."""

    def __init__(self, ack: Callable[..., Any]) -> None:
        self._ack = ack
        self._lock = threading.Lock()
        self._answered = False

    def __call__(self, **message: Any) -> bool:
        """Ack with `message` (Bolt's ack arguments); True if this call was the ack."""
        with self._lock:
            if self._answered:
                return False
            self._answered = True
            ack, self._ack = self._ack, _answered  # the watchdog holds this a while: let Bolt's go
        ack(**message)
        return True

    @property
    def answered(self) -> bool:
        return self._answered


def _answered(**_message: Any) -> None:
    """What an OnceAck holds once it has acked."""


class AckDeadlines:
    """One watchdog thread per process that acks, empty, every watched request still
    unanswered `seconds` after it was watched."""

    def __init__(
        self, seconds: float = ACK_BUDGET_SECONDS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.clock = clock
        self._due: list[tuple[float, int, OnceAck]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, ack: Callable[..., Any]) -> OnceAck:
        """`ack`, wrapped so that it acks once, and acked empty at the deadline if not before."""
        once = OnceAck(ack)
        due = self.clock() + self.seconds
        with self._wake:
            heapq.heappush(self._due, (due, next(self._order), once))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="impact-ack-deadlines", daemon=True)
                self._thread.start()
            elif self._due[0][2] is once:
                self._wake.notify()  # earlier than what the watchdog sleeps towards
        return once

    def pending(self) -> int:
        """Watched requests whose deadline has not come yet, answered or not."""
        with self._wake:
            return len(self._due)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due:
                    self._wake.wait()
                due, _, once = self._due[0]
                left = due - self.clock()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._due)
            try:
                if once():
                    log.info("acked empty after %.1f s; the answer follows by response_url", self.seconds)
            except Exception as e:  # noqa: BLE001 - one failed ack must not stop the watchdog
                log.warning("could not ack a request at its deadline: %r", e)


class Reply:
    """The first answer to a request: in its ack while the deadline allows, else through
    `respond` (its response_url). Called like Bolt's `respond` with blocks and text."""

    def __init__(self, ack: OnceAck, respond: Callable[..., Any]) -> None:
        self.ack = ack
        self.respond = respond
        self.sent = False  # whether an answer went out (in the ack or through respond)

    def __call__(self, **message: Any) -> None:
        self.sent = True
        if not self.ack(**message):
            self.respond(**message)

    def nothing_yet(self) -> None:
        """Ack empty (if not acked yet): what follows, a modal say, needs a call to Slack first."""
        self.ack()
