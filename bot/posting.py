"""Posting into channels: choosing, rendering, posting exactly once, and closing the loop."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.managers import ManagerDirectory
from bot.messages import t
from bot.prompts import BUILTIN_PROMPTS, next_prompt, prompt_blocks, prompt_fallback_text
from bot.render import escape, story_fallback_text, story_post_blocks
from bot.schedule import slot_key
from bot.selection import ChannelHistory, choose_story, invitation_blocks
from bot.settings import Settings
from bot.story import Story
from storage import queries
from storage import schedules as sq
from storage.db import Database
from storage.models import utcnow
from storage.schedules import ChannelSchedule

log = logging.getLogger("impact.posting")

METADATA_EVENT = "impact_slot"
# Errors that retrying cannot fix: report to managers once and give the slot up.
CHANNEL_ERRORS = ("not_in_channel", "channel_not_found", "is_archived", "restricted_action")
FRESH_VOICE = timedelta(days=30)


class ChannelProblem(Exception):
    """Slack refused the channel (not a member, archived, ...); `error` is Slack's code."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class Choice:
    """What would be posted: a story, or None for the invitation to share one."""

    story: Story | None
    candidates: int


def owner_id() -> str:
    """Who holds a claim: host and process, for the operator reading slot_claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def choose_for_channel(
    db: Database,
    ws: int,
    channel_id: str,
    now: datetime,
    *,
    query: str = "",
    skip: int = 0,
) -> Choice:
    """The customer of the week for this channel, deterministic for the database state."""
    with db.session() as session:
        stories = queries.live_stories(session, ws, kinds=("praise", "referral"))
        settings = sq.channel_settings(session, ws, channel_id)
        history = ChannelHistory(
            featured_story_ids=sq.featured_story_ids(session, ws, channel_id),
            recent_customers=sq.recent_customers(session, ws, channel_id),
            tags=tuple(settings.tags or ()) if settings else (),
        )
        appreciation = sq.appreciation(session, ws)
    story = choose_story(stories, history, now, appreciation=appreciation, query=query, skip=skip)
    return Choice(story=story, candidates=len(stories))


def story_message(choice: Choice, lang: str) -> tuple[list[dict[str, Any]], str]:
    """Blocks and notification text for a story post, or the invitation."""
    if choice.story is None:
        return invitation_blocks(lang), t("story.invitation", lang)
    return story_post_blocks(choice.story, lang), story_fallback_text(choice.story, lang)


class Poster:
    """Posts stories and prompts for one process; every scheduled slot goes through a claim."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        managers: ManagerDirectory,
        client_for: Any,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.managers = managers
        self.client_for = client_for  # team_id -> WebClient
        self.owner = owner or owner_id()
        self.lease = timedelta(seconds=settings.slot_lease_seconds)
        self.grace = timedelta(hours=settings.grace_hours)

    def language(self, ws: int, channel_language: str | None) -> str:
        """The channel's language, else the workspace's (settings), else IMPACT_LANGUAGE."""
        if channel_language:
            return channel_language
        with self.db.session() as session:
            return queries.workspace_language(session, ws) or self.settings.language

    # --- a scheduled slot -----------------------------------------------------------------

    def run_slot(self, schedule: ChannelSchedule, slot_at: datetime, now: datetime | None = None) -> str:
        """Post the slot unless another process has; returns what happened (for logs and tests)."""
        now = now or utcnow()
        ws, channel, kind = schedule.workspace_id, schedule.channel_id, schedule.spec.kind
        claim = sq.claim_slot(self.db, ws, channel, kind, slot_at, self.owner, self.lease, now)
        if claim is None:
            return "taken"
        key = slot_key(channel, kind, slot_at)
        client = self.client_for(schedule.team_id)
        if claim.recovered:
            # A process died holding this slot: it may have posted before dying.
            found = self._find_posted(client, channel, slot_at, key)
            if found is not None:
                ts, payload = found
                story_id = payload.get("story_id")
                post_kind = "prompt" if kind == "prompt" else ("story" if story_id else "invitation")
                self._record(ws, channel, ts, claim.id, post_kind, story_id, note="found after takeover")
                log.info("slot %s was already posted (ts %s) by a process that died", key, ts)
                return "found"
            if now - slot_at > self.grace:
                with self.db.session() as session:
                    sq.finish_claim(session, claim.id, "failed", note="not posted within the grace period")
                log.warning("slot %s given up: not posted within the grace period", key)
                return "expired"
        lang = self.language(ws, schedule.language)
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"slot": key}}
        try:
            if kind == "story":
                ts, story = self._post_story(client, ws, channel, lang, metadata, now, claim.id)
            else:
                ts, story = self._post_prompt(client, ws, channel, lang, metadata, key, now, claim.id), None
        except ChannelProblem as e:
            with self.db.session() as session:
                sq.finish_claim(session, claim.id, "failed", note=e.error)
                first_time = sq.note_channel_error(session, ws, channel, e.error)
            log.warning("slot %s failed: %s", key, e.error)
            if first_time:
                self.report_channel_problem(client, schedule, e.error, lang)
            return "failed"
        except Exception as e:
            # Retries are exhausted or the connection dropped: the next sweep takes over and
            # checks Slack before posting again, so a post that did go out is not doubled.
            sq.release_claim(self.db, claim.id, note=f"retrying: {e!r}"[:500])
            log.warning("slot %s will be retried: %r", key, e)
            return "retry"
        log.info("posted slot %s (ts %s)", key, ts)
        if story is not None:
            self.close_the_loop(client, story, channel, ts, lang)
        return "posted"

    def _find_posted(
        self, client: WebClient, channel: str, slot_at: datetime, key: str
    ) -> tuple[str, dict[str, Any]] | None:
        """The ts and metadata payload of this slot's message, if it reached the channel."""
        oldest = f"{(slot_at - timedelta(minutes=5)).timestamp():.6f}"
        try:
            history = client.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=200
            )
        except SlackApiError as e:
            log.warning("could not read %s history: %s", channel, e.response.get("error"))
            return None
        for message in history.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("slot") == key:
                return str(message["ts"]), payload
        return None

    def _post(
        self,
        client: WebClient,
        channel: str,
        blocks: list[dict[str, Any]],
        text: str,
        metadata: dict[str, Any] | None,
    ) -> str:
        try:
            response = client.chat_postMessage(
                channel=channel, blocks=blocks, text=text, metadata=metadata, unfurl_links=False
            )
        except SlackApiError as e:
            error = str(e.response.get("error"))
            if error in CHANNEL_ERRORS:
                raise ChannelProblem(error) from None
            raise
        return str(response["ts"])

    def _post_story(
        self,
        client: WebClient,
        ws: int,
        channel: str,
        lang: str,
        metadata: dict[str, Any] | None,
        now: datetime,
        claim_id: int | None,
        *,
        query: str = "",
        skip: int = 0,
    ) -> tuple[str, Story | None]:
        choice = choose_for_channel(self.db, ws, channel, now, query=query, skip=skip)
        story = choice.story
        blocks, text = story_message(choice, lang)
        if metadata is not None and story is not None:
            # Lets a process that takes over after a crash record which story went out.
            metadata["event_payload"]["story_id"] = story.id
        ts = self._post(client, channel, blocks, text, metadata)
        self._record(
            ws, channel, ts, claim_id, "story" if story else "invitation", story.id if story else None
        )
        return ts, story

    def _record(
        self,
        ws: int,
        channel: str,
        ts: str,
        claim_id: int | None,
        kind: str,
        story_id: int | None,
        prompt: str | None = None,
        note: str = "",
    ) -> None:
        """After a post reached Slack: close the claim and remember the post, in one transaction."""
        with self.db.session() as session:
            if claim_id is not None:
                sq.finish_claim(session, claim_id, "posted", ts=ts, note=note)
            sq.add_post(session, ws, channel, ts, kind, story_id, prompt=prompt)
            if prompt is not None:
                sq.set_last_prompt(session, ws, channel, prompt)
            sq.note_channel_error(session, ws, channel, None)

    def _post_prompt(
        self,
        client: WebClient,
        ws: int,
        channel: str,
        lang: str,
        metadata: dict[str, Any] | None,
        key: str,
        now: datetime,
        claim_id: int | None,
    ) -> str:
        with self.db.session() as session:
            catalog = list(BUILTIN_PROMPTS) + sq.custom_prompts(session, ws)
            settings = sq.channel_settings(session, ws, channel)
            last = settings.last_prompt if settings else None
            voices = [
                s
                for s in queries.live_stories(session, ws, kinds=("praise", "referral"))
                if s.created_at and now - s.created_at <= FRESH_VOICE
            ]
        prompt = next_prompt(catalog, last, key)
        voice = voices[-1] if voices else None
        ts = self._post(
            client, channel, prompt_blocks(prompt, voice, lang), prompt_fallback_text(prompt), metadata
        )
        self._record(ws, channel, ts, claim_id, "prompt", voice.id if voice else None, prompt=prompt)
        return ts

    # --- on demand ------------------------------------------------------------------------

    def post_story_now(
        self,
        team_id: str,
        ws: int,
        channel: str,
        *,
        query: str = "",
        skip: int = 0,
        nonce: datetime | None = None,
        lang: str | None = None,
    ) -> str | None:
        """Post a story now; returns the permalink, or None when this nonce was posted already.

        `nonce` (the preview's creation time) makes a double-clicked Post go out once.
        """
        client = self.client_for(team_id)
        claim_id = None
        if nonce is not None:
            claim = sq.claim_slot(self.db, ws, channel, "ondemand", nonce, self.owner, self.lease)
            if claim is None:
                return None
            claim_id = claim.id
        lang = lang or self.language(ws, None)
        try:
            ts, story = self._post_story(
                client, ws, channel, lang, None, utcnow(), claim_id, query=query, skip=skip
            )
        except (ChannelProblem, SlackApiError) as e:
            if claim_id is not None:
                with self.db.session() as session:
                    sq.finish_claim(session, claim_id, "failed", note=str(e))
            raise
        permalink = self.permalink(client, channel, ts)
        if story is not None:
            self.close_the_loop(client, story, channel, ts, lang, permalink)
        return permalink

    # --- closing the loop -----------------------------------------------------------------

    def permalink(self, client: WebClient, channel: str, ts: str) -> str:
        try:
            return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except SlackApiError as e:
            log.warning("no permalink for %s/%s: %s", channel, ts, e.response.get("error"))
            return ""

    def close_the_loop(
        self,
        client: WebClient,
        story: Story,
        channel: str,
        ts: str,
        lang: str,
        permalink: str | None = None,
    ) -> None:
        """Tell the author and the credited colleagues that their story was featured."""
        link = permalink if permalink is not None else self.permalink(client, channel, ts)
        # A direct message to people who know the customer: the name is fine even when the
        # channel post was anonymous.
        customer = escape(story.customer)
        recipients = [(story.author, "featured.dm")] if story.author else []
        recipients += [(u, "credited.dm") for u in story.credited if u != story.author]
        for user, message_id in recipients:
            text = t(message_id, lang, customer=customer, channel=channel, permalink=link)
            try:
                client.chat_postMessage(channel=user, text=text)
            except SlackApiError as e:
                log.warning("could not tell %s: %s", user, e.response.get("error"))

    def report_channel_problem(
        self, client: WebClient, schedule: ChannelSchedule, error: str, lang: str
    ) -> None:
        """Tell the configured managers, once per channel and error."""
        kind = t(f"schedule.kind.{schedule.spec.kind}", lang).lower()
        text = t("channel_error.dm", lang, kind=kind, channel=schedule.channel_id, error=error)
        recipients = set(self.settings.managers) | self.managers.group_members(client, schedule.team_id)
        if not recipients:
            log.warning("no manager to tell about %s in %s", error, schedule.channel_id)
        for user in sorted(recipients):
            try:
                client.chat_postMessage(channel=user, text=text)
            except SlackApiError as e:
                log.warning("could not tell manager %s: %s", user, e.response.get("error"))
