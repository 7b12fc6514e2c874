"""Posting a channel message exactly once, whatever the connection does.

Every post carries Slack message metadata with a marker unique to it (a slot key, a preview's
nonce). When Slack's answer is lost (the connection dropped or timed out after the request
was sent, or Slack answered 5xx), the post may or may not exist: the channel's recent history
is read for the marker before anything is sent again. Only a post that provably did not
arrive is resent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_client import connection_error, never_arrived

log = logging.getLogger("impact.delivery")

METADATA_EVENT = "impact_slot"
# Pauses between attempts when Slack's answer was lost; short, the caller's user is waiting.
BACKOFF_SECONDS = (0.5, 1.5)


class DeliveryUncertain(Exception):
    """Slack's answer was lost and the history could not be read: the post may exist."""


@dataclass(frozen=True)
class Delivered:
    """A post in a channel: its ts, and whether it was found rather than answered."""

    ts: str
    found: bool = False
    payload: dict[str, Any] | None = None


def marker_metadata(marker: str, **payload: Any) -> dict[str, Any]:
    """Slack message metadata naming this post."""
    return {"event_type": METADATA_EVENT, "event_payload": {"slot": marker, **payload}}


def find_post(client: WebClient, channel: str, marker: str, since: datetime) -> Delivered | None:
    """The post carrying `marker` in the channel since `since`, if Slack has it.

    Raises DeliveryUncertain when the history cannot be read.
    """
    oldest = f"{(since - timedelta(minutes=5)).timestamp():.6f}"
    cursor = None
    for _ in range(5):  # at most 1,000 recent messages
        try:
            history = client.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
            )
        except SlackApiError as e:
            raise DeliveryUncertain(f"history of {channel}: {e.response.get('error')}") from None
        except Exception as e:  # noqa: BLE001 - any transport failure means "cannot tell"
            raise DeliveryUncertain(f"history of {channel}: {e!r}") from None
        for message in history.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("slot") == marker:
                return Delivered(ts=str(message["ts"]), found=True, payload=payload)
        cursor = (history.get("response_metadata") or {}).get("next_cursor")
        if not history.get("has_more") or not cursor:
            return None
    return None


def _lost_answer(error: Exception) -> bool:
    """True when Slack may have carried the call out but its answer did not reach us."""
    if isinstance(error, SlackApiError):
        return error.response.status_code >= 500
    return connection_error(error) and not never_arrived(error)


def post_once(
    client: WebClient,
    channel: str,
    marker: str,
    *,
    blocks: list[dict[str, Any]],
    text: str,
    payload: dict[str, Any] | None = None,
    since: datetime,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivered:
    """Post to `channel` once. Slack errors (`ok: false`) are raised as SlackApiError.

    Raises DeliveryUncertain when an answer was lost and Slack's history cannot settle it,
    and the last error when every attempt provably failed.
    """
    metadata = marker_metadata(marker, **(payload or {}))
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            response = client.chat_postMessage(
                channel=channel, blocks=blocks, text=text, metadata=metadata, unfurl_links=False
            )
            return Delivered(ts=str(response["ts"]))
        except SlackApiError as e:
            if not _lost_answer(e):
                raise
            last = e
        except Exception as e:  # noqa: BLE001 - transport errors are sorted below
            if not connection_error(e):
                raise
            last = e
            if never_arrived(e):
                log.info("post %s did not reach Slack (%r); trying again", marker, e)
                if attempt + 1 < attempts:
                    sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])
                continue
        # Slack may still be storing it: give it a moment before reading the history.
        sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])
        log.warning("answer to post %s in %s was lost (%r); looking for it", marker, channel, last)
        found = find_post(client, channel, marker, since)
        if found is not None:
            log.info("post %s found in %s (ts %s): not posting again", marker, channel, found.ts)
            return found
        if attempt + 1 == attempts:
            raise DeliveryUncertain(f"answer lost {attempts} times and the post is not in {channel}")
    assert last is not None
    raise last
