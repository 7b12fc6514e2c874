"""Closing the loop: one direct message per featured person per occasion, sent once, later.

When a story goes out, the DMs it owes its author and credited colleagues are recorded in the
same transaction as the post (storage.outbox). They are sent after the occasion's channel posts
(a slot's fan-out, or one on-demand post), off their path: one DM per person, story and slot,
naming every channel it went to. Each waits its turn in the workspace's pace; a rate limit puts
it back in line, never drops it; a restart finds it still owed. A DM whose answer was lost is
never resent (the bot has no scope to read DMs back), so nobody is told twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.messages import t
from bot.pacing import Pacer
from bot.render import credited_users, notification_text
from bot.slack_client import never_arrived, retry_after_header
from domain.story import Story, is_user_id
from domain.viewer import Viewer
from storage import outbox, posts, queries
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger("impact.featured")

# A DM waits for its slot's channel posts, but not for ever (a channel stuck in retries).
SETTLE_CAP = timedelta(minutes=15)
# Channels named in a DM before "…".
MAX_NAMED = 10


def recipients(story: Story) -> list[tuple[str, str]]:
    """(user, message id) for everyone a featured story owes a DM: its author, then credits."""
    owed = [(story.author, "featured.dm")] if is_user_id(story.author) else []
    owed += [(u, "credited.dm") for u in credited_users(story) if u != story.author]
    return owed


def dm_text(story: Story, user: str, message_id: str, channels: list[str], permalink: str, lang: str) -> str:
    """The DM in `lang`. Under anonymous consent only the author reads the customer's name:
    manager rights are not looked up for a DM, so a credited manager gets the anonymous text."""
    named = Viewer(user).sees_names(story)
    customer = notification_text(story.customer, 200) if named else ""
    if not named:
        message_id = "credited.dm_anonymous"
    if len(channels) <= 1:
        channel = channels[0] if channels else ""
        return t(message_id, lang, customer=customer, channel=channel, permalink=permalink)
    listed = ", ".join(f"<#{c}>" for c in channels[:MAX_NAMED])
    if len(channels) > MAX_NAMED:
        listed += ", …"
    return t(f"{message_id}_many", lang, customer=customer, count=len(channels), channels=listed)


class FeaturedDMs:
    """Sends the DMs owed for featured stories; safe to run in many processes at once."""

    def __init__(
        self,
        db: Database,
        client_for: Callable[[str, str], WebClient],
        pacer: Pacer,
        language_for_user: Callable[[WebClient, str, int, str], str],
        owner: str,
        lease: timedelta,
    ) -> None:
        self.db = db
        self.client_for = client_for
        self.pacer = pacer
        self.language_for_user = language_for_user
        self.owner = owner
        self.lease = lease

    def deliver(self, now: datetime | None = None, ws: int | None = None) -> dict[str, int]:
        """Send every DM whose occasion has settled; returns counts by outcome (for logs, tests)."""
        # An injected `now` (tests) holds for the whole round; otherwise each DM reads the clock.
        fixed = now

        def clock() -> datetime:
            return fixed if fixed is not None else utcnow()

        now = clock()
        counts: dict[str, int] = {}
        try:
            stale = outbox.abandon_stale(self.db, now, self.lease)
            if stale:
                log.warning("%d direct messages were being sent by a process that stopped: not resent", stale)
            owed = outbox.due(self.db, now, SETTLE_CAP, ws=ws)
        except Exception as e:  # noqa: BLE001 - the next sweep tries again; nothing is lost
            log.warning("could not read the direct messages owed: %r", e)
            return counts
        for dm in owed:
            try:
                outcome = self._send(dm, clock)
            except Exception:  # noqa: BLE001 - one DM's failure does not hold the others
                log.exception("direct message %s to %s failed", dm.id, dm.user_id)
                outcome = "error"
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def _send(self, dm: outbox.Owed, clock: Callable[[], datetime]) -> str:
        now = clock()
        if not outbox.take(self.db, dm.id, self.owner, now):
            return "taken"
        client = self.client_for(dm.team_id, dm.enterprise_id)
        with self.db.session() as session:
            story = queries.get_story(session, dm.workspace_id, dm.story_id)
            featured = outbox.featured_in(session, dm)
        if story is None or not client.token:
            why = "the story is gone" if story is None else "the app is not installed in this workspace"
            with self.db.session() as session:
                outbox.finish(session, dm.id, outbox.DROPPED, now, note=why)
            return "dropped"
        channels = [channel for channel, _ts in featured]
        permalink = self._permalink(client, *featured[0]) if len(featured) == 1 else ""
        lang = self.language_for_user(client, dm.team_id, dm.workspace_id, dm.user_id)
        text = dm_text(story, dm.user_id, dm.message_id, channels, permalink, lang)
        self.pacer.wait(client.token)
        try:
            sent = client.chat_postMessage(channel=dm.user_id, text=text)
        except SlackApiError as e:
            error = str(e.response.get("error") or "")
            if e.response.status_code == 429 or error == "ratelimited":
                wait = max(1.0, retry_after_header(e.response.headers))
                outbox.later(self.db, dm.id, clock() + timedelta(seconds=wait), f"rate limited: {wait:g} s")
                log.info("direct message to %s waits %g s for Slack's rate limit", dm.user_id, wait)
                return "later"
            # Slack refused it (it never arrived), or answered 5xx (it may have arrived).
            status = outbox.FAILED if e.response.status_code < 500 else outbox.UNCERTAIN
            with self.db.session() as session:
                outbox.finish(session, dm.id, status, clock(), note=error or repr(e))
            log.warning("could not tell %s (%s): %s", dm.user_id, status, error)
            return status
        except Exception as e:
            if never_arrived(e):
                outbox.later(self.db, dm.id, clock() + timedelta(seconds=30), f"not sent: {e!r}")
                return "later"
            # The answer was lost: the DM may have arrived, and it is never resent.
            with self.db.session() as session:
                outbox.finish(session, dm.id, outbox.UNCERTAIN, clock(), note=repr(e))
            log.warning("could not tell %s whether the DM arrived: %r", dm.user_id, e)
            return outbox.UNCERTAIN
        dm_channel, ts = str(sent.get("channel") or ""), str(sent.get("ts") or "")
        with self.db.session() as session:
            outbox.finish(session, dm.id, outbox.SENT, clock(), dm_channel=dm_channel, ts=ts)
            # Recorded as a post too, so `purge` can redact it later.
            if dm_channel and ts:
                posts.add_post(session, dm.workspace_id, dm_channel, ts, "dm", dm.story_id)
        return "sent"

    def _permalink(self, client: WebClient, channel: str, ts: str) -> str:
        if not ts:
            return ""
        try:
            return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except Exception as e:  # noqa: BLE001 - the DM still names the channel
            log.warning("no permalink for %s/%s: %r", channel, ts, e)
            return ""
