"""Posting at a workspace's rate instead of discovering it through 429s.

Slack allows about one message per second per channel and a workspace-wide rate beyond which
it answers HTTP 429 with Retry-After. Every message the bot sends on its own (scheduled posts,
the direct messages that close the loop) first reserves its turn in the workspace's bucket
(storage.pacing), shared by every process on the database, and waits for it. A 429 seen by
any call pushes the whole bucket past its Retry-After, so no process sends sooner. slack_sdk's
retry handler stays the fallback for a 429 that still happens.

The bucket's key is a hash of the workspace's bot token: each install has its own, and the
token itself is never stored. Hosts must keep their clocks in sync (NTP), as the times are theirs.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from storage import pacing
from storage.db import Database

log = logging.getLogger("impact.pacing")

# Never wait longer than this for one turn; past it the message goes and 429 handling takes over.
MAX_WAIT = 300.0


def bucket_key(token: str) -> str:
    return "ws:" + hashlib.sha256(token.encode()).hexdigest()[:32]


class Pacer:
    """Waits for a workspace's turn to send a message (per_minute, with a burst)."""

    def __init__(
        self,
        db: Database,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.interval = 60.0 / per_minute
        self.burst = burst
        self.clock = clock
        self.sleep = sleep

    def wait(self, token: str | None) -> float:
        """Reserve the next message of the workspace with this token and wait for its turn.

        Returns the seconds waited. A database that cannot be asked does not stop the post:
        Slack's 429 and the retry handler still keep the rate.
        """
        if not token:
            return 0.0
        now = self.clock()
        try:
            at = pacing.reserve(self.db, bucket_key(token), now, self.interval, self.burst)
        except Exception as e:  # noqa: BLE001 - pacing is an optimisation; 429s remain the fallback
            log.warning("could not reserve a turn to post (%r); posting unpaced", e)
            return 0.0
        wait = min(MAX_WAIT, max(0.0, at - now))
        if wait > 0:
            self.sleep(wait)
        return wait

    def rate_limited(self, token: str | None, retry_after: float) -> None:
        """Slack answered 429: nobody sends for this workspace before Retry-After has passed."""
        if not token:
            return
        try:
            pacing.hold(self.db, bucket_key(token), self.clock() + retry_after, self.interval, self.burst)
        except Exception as e:  # noqa: BLE001 - the retry handler still waits Retry-After
            log.warning("could not hold the workspace's posts for %.1f s: %r", retry_after, e)
