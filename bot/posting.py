"""Posting into channels: choosing, rendering, posting exactly once, and closing the loop."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery import METADATA_EVENT as METADATA_EVENT
from bot.delivery import Delivered, DeliveryUncertain, find_post, post_once
from bot.featured import FeaturedDMs, recipients
from bot.languages import LOOKUP_TIMEOUT_SECONDS, UserLanguages
from bot.logs import set_about
from bot.managers import ManagerCheckUnavailable, ManagerDirectory
from bot.messages import t
from bot.pacing import Pacer
from bot.prompts import builtin_prompts, next_prompt, prompt_blocks, prompt_fallback_text
from bot.render import story_fallback_text, story_post_blocks
from bot.selection import invitation_blocks
from bot.settings import Settings
from domain.schedule import ChannelSchedule, slot_key
from domain.story import Story
from storage import channels, claims, outbox, posts, queries
from storage.db import Database
from storage.models import utcnow
from storage.selection import choose_candidate, freshest_story

log = logging.getLogger("impact.posting")

# Errors that retrying cannot fix: report to managers once and give the slot up.
CHANNEL_ERRORS = ("not_in_channel", "channel_not_found", "is_archived", "restricted_action")
# The workspace's token is dead: no slot of it is retried; a reinstall brings a new token.
AUTH_ERRORS = ("token_revoked", "invalid_auth", "account_inactive", "team_access_revoked", "not_authed")
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


@dataclass(frozen=True)
class Outcome:
    """What became of an on-demand post, for telling the manager.

    status: "posted"; "found" (an answer was lost, but the post is in the channel);
    "already" (this preview was posted before); "uncertain" (the answer was lost and Slack
    could not say whether the post exists: posting again checks first).
    """

    status: str
    permalink: str = ""


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
    """The customer of the week for this channel, deterministic for the database state.

    Ranked in the database (storage.selection) exactly as bot.selection.choose_story ranks.
    """
    with db.session() as session:
        settings = channels.channel_settings(session, ws, channel_id)
        tags = settings.tags if settings else ()
        story = choose_candidate(session, ws, channel_id, now, tags=tags, query=query, skip=skip)
    return Choice(story=story)


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
        client_for: Callable[[str, str], WebClient],
        pacer: Pacer,
        owner: str | None = None,
        *,
        languages: UserLanguages | None = None,
    ) -> None:
        self.settings = settings
        # Each person's language for the direct messages (None: the workspace's for everyone).
        self.languages = languages
        self.db = db
        self.managers = managers
        # (team id, enterprise id) -> a client with that workspace's bot token
        self.client_for = client_for
        self.owner = owner or owner_id()
        self.lease = timedelta(seconds=settings.slot_lease_seconds)
        self.grace = timedelta(hours=settings.grace_hours)
        # Every workspace's messages at its rate, shared by all processes (bot.pacing).
        self.pacer = pacer
        # The DMs that close the loop, sent after each occasion's channel posts (bot.featured).
        self.featured = FeaturedDMs(
            db, client_for, self.pacer, self.language_for_user, self.owner, self.lease
        )

    def language(self, ws: int, channel_language: str | None) -> str:
        """The channel's language, else the workspace's (settings), else IMPACT_LANGUAGE."""
        if channel_language:
            return channel_language
        with self.db.session() as session:
            return queries.workspace_language(session, ws) or self.settings.language

    def channel_language(self, ws: int, channel: str) -> str:
        """The language of a post in `channel`: its own (set in its schedule), else the
        workspace's, else IMPACT_LANGUAGE. A preview shows the post in this language too."""
        with self.db.session() as session:
            found = channels.channel_settings(session, ws, channel)
        return self.language(ws, found.language if found else None)

    def language_for_user(self, client: WebClient, team_id: str, ws: int, user: str) -> str:
        """The language of a direct message to `user`: their Slack locale, else the workspace's,
        else IMPACT_LANGUAGE. Asked after any ack, so it may wait for Slack's answer."""
        if self.languages is None or not team_id:
            return self.language(ws, None)
        return self.languages.for_user(
            client, team_id, user, lambda: self.language(ws, None), wait=LOOKUP_TIMEOUT_SECONDS
        )

    # --- a scheduled slot -----------------------------------------------------------------

    def run_slot(self, schedule: ChannelSchedule, slot_at: datetime, now: datetime | None = None) -> str:
        """Post the slot unless another process has; returns what happened (for logs and tests)."""
        now = now or utcnow()
        ws, channel, kind = schedule.workspace_id, schedule.channel_id, schedule.spec.kind
        set_about(team=schedule.team_id, channel=channel, slot=slot_key(channel, kind, slot_at))
        claim = claims.claim_slot(self.db, ws, channel, kind, slot_at, self.owner, self.lease, now)
        if claim is None:
            return "taken"
        key = slot_key(channel, kind, slot_at)
        client = self.client_for(schedule.team_id, schedule.enterprise_id)
        if not client.token:
            # Uninstalled (or never installed): no call is made; a reinstall resumes later slots.
            with self.db.session() as session:
                claims.finish_claim(
                    session, claim.id, "skipped", note="the app is not installed in this workspace"
                )
            log.warning("slot %s skipped: the app is not installed in team %s", key, schedule.team_id)
            return "skipped"
        if claim.recovered:
            # A process died holding this slot, or Slack's answer was lost: it may be posted.
            try:
                found = find_post(client, channel, key, slot_at)
            except DeliveryUncertain as e:
                claims.release_claim(self.db, claim.id, note=f"cannot check Slack: {e}"[:500])
                log.warning("slot %s: %s; the next sweep checks again", key, e)
                return "retry"
            if found is not None:
                payload = found.payload or {}
                story_id = payload.get("story_id")
                post_kind = "prompt" if kind == "prompt" else ("story" if story_id else "invitation")
                self._record(
                    ws,
                    channel,
                    found.ts,
                    claim.id,
                    post_kind,
                    story_id,
                    note="found after takeover",
                    featured=self._story_of(ws, story_id) if post_kind == "story" else None,
                    occasion=(kind, slot_at),
                )
                log.info("slot %s was already posted (ts %s)", key, found.ts)
                return "found"
            if now - slot_at > self.grace:
                with self.db.session() as session:
                    claims.finish_claim(
                        session, claim.id, "failed", note="not posted within the grace period"
                    )
                log.warning("slot %s given up: not posted within the grace period", key)
                return "expired"
        lang = self.language(ws, schedule.language)
        # Wait for this workspace's turn: every process together keeps Slack's rate.
        self.pacer.wait(client.token)
        try:
            if kind == "story":
                delivered, _story = self._post_story(
                    client, ws, channel, lang, key, slot_at, claim.id, occasion=(kind, slot_at)
                )
                ts = delivered.ts
            else:
                ts = self._post_prompt(client, ws, channel, lang, key, now, slot_at, claim.id)
        except SlackApiError as e:
            error = str(e.response.get("error"))
            if e.response.status_code != 200 or error not in AUTH_ERRORS:
                claims.release_claim(self.db, claim.id, note=f"retrying: {e!r}"[:500])
                log.warning("slot %s will be retried: %r", key, e)
                return "retry"
            with self.db.session() as session:
                claims.finish_claim(session, claim.id, "failed", note=error)
            log.error("slot %s given up: Slack rejected the workspace's token (%s)", key, error)
            return "failed"
        except ChannelProblem as e:
            with self.db.session() as session:
                claims.finish_claim(session, claim.id, "failed", note=e.error)
                first_time = channels.note_channel_error(session, ws, channel, e.error)
            log.warning("slot %s failed: %s", key, e.error)
            if first_time:
                self.report_channel_problem(client, schedule, e.error)
            return "failed"
        except Exception as e:
            # Retries ran out, or Slack's answer was lost and its history could not settle it:
            # the next sweep takes the claim over and checks Slack before posting, so a post
            # that did go out is not doubled.
            claims.release_claim(self.db, claim.id, note=f"retrying: {e!r}"[:500])
            log.warning("slot %s will be retried: %r", key, e)
            return "retry"
        log.info("posted slot %s (ts %s)", key, ts)
        return "posted"

    def _post(
        self,
        client: WebClient,
        channel: str,
        blocks: list[dict[str, Any]],
        text: str,
        marker: str,
        since: datetime,
        payload: dict[str, Any] | None = None,
    ) -> Delivered:
        """Post once (see bot.delivery); Slack refusing the channel becomes ChannelProblem."""
        try:
            return post_once(client, channel, marker, blocks=blocks, text=text, payload=payload, since=since)
        except SlackApiError as e:
            error = str(e.response.get("error"))
            if error in CHANNEL_ERRORS:
                raise ChannelProblem(error) from None
            raise

    def _post_story(
        self,
        client: WebClient,
        ws: int,
        channel: str,
        lang: str,
        marker: str,
        since: datetime,
        claim_id: int | None,
        *,
        occasion: tuple[str, datetime],
        query: str = "",
        skip: int = 0,
    ) -> tuple[Delivered, Story | None]:
        choice = choose_for_channel(self.db, ws, channel, utcnow(), query=query, skip=skip)
        story = choice.story
        blocks, text = story_message(choice, lang)
        # The story id lets whoever finds the post later record which story went out.
        payload = {"story_id": story.id} if story is not None else None
        delivered = self._post(client, channel, blocks, text, marker, since, payload)
        if delivered.found:
            # What is in the channel counts, should the choice have moved on since.
            story = self._story_of(ws, (delivered.payload or {}).get("story_id"))
        self._record(
            ws,
            channel,
            delivered.ts,
            claim_id,
            "story" if story else "invitation",
            story.id if story else None,
            featured=story,
            occasion=occasion,
        )
        return delivered, story

    def _story_of(self, ws: int, story_id: Any) -> Story | None:
        if not isinstance(story_id, int):
            return None
        with self.db.session() as session:
            return queries.get_story(session, ws, story_id)

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
        *,
        featured: Story | None = None,
        occasion: tuple[str, datetime] | None = None,
    ) -> None:
        """After a post reached Slack: close the claim, remember the post and owe its featured
        people their DMs (bot.featured), in one transaction."""
        with self.db.session() as session:
            if claim_id is not None:
                claims.finish_claim(session, claim_id, "posted", ts=ts, note=note)
            posts.add_post(session, ws, channel, ts, kind, story_id, prompt=prompt)
            if featured is not None and occasion is not None:
                occasion_kind, occasion_at = occasion
                outbox.owe(
                    session, ws, featured.id, recipients(featured), occasion_kind, occasion_at, occasion_at
                )
            if prompt is not None:
                channels.set_last_prompt(session, ws, channel, prompt)
            channels.note_channel_error(session, ws, channel, None)

    def _post_prompt(
        self,
        client: WebClient,
        ws: int,
        channel: str,
        lang: str,
        key: str,
        now: datetime,
        since: datetime,
        claim_id: int | None,
    ) -> str:
        with self.db.session() as session:
            # The built-in prompts in the channel's language; custom ones as their manager wrote them.
            catalog = list(builtin_prompts(lang)) + channels.custom_prompts(session, ws)
            settings = channels.channel_settings(session, ws, channel)
            last = settings.last_prompt if settings else None
            voice = freshest_story(session, ws, now, FRESH_VOICE)
        prompt = next_prompt(catalog, last, key, lang)
        delivered = self._post(
            client, channel, prompt_blocks(prompt, voice, lang), prompt_fallback_text(prompt), key, since
        )
        self._record(
            ws, channel, delivered.ts, claim_id, "prompt", voice.id if voice else None, prompt=prompt
        )
        return delivered.ts

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
        enterprise_id: str = "",
    ) -> Outcome:
        """Post a story now, once per `nonce` (the preview's creation time), and say what happened.

        A double-clicked Post goes out once: the nonce is a claim. When Slack's answer is lost
        and its history cannot settle it, the claim is given back, so the next click first
        looks for the post and never doubles it.
        """
        client = self.client_for(team_id, enterprise_id)
        nonce = nonce or utcnow()
        marker = f"ondemand|{channel}|{nonce.isoformat()}"
        claim = claims.claim_slot(self.db, ws, channel, "ondemand", nonce, self.owner, self.lease)
        if claim is None:
            return Outcome("already")
        lang = lang or self.channel_language(ws, channel)
        since = nonce - timedelta(minutes=1)
        try:
            found = find_post(client, channel, marker, since) if claim.recovered else None
            if found is not None:
                story = self._story_of(ws, (found.payload or {}).get("story_id"))
                self._record(
                    ws,
                    channel,
                    found.ts,
                    claim.id,
                    "story" if story else "invitation",
                    story.id if story else None,
                    featured=story,
                    occasion=("ondemand", nonce),
                )
                self.featured.deliver(ws=ws)
                return Outcome("found", self.permalink(client, channel, found.ts))
            delivered, story = self._post_story(
                client,
                ws,
                channel,
                lang,
                marker,
                since,
                claim.id,
                occasion=("ondemand", nonce),
                query=query,
                skip=skip,
            )
        except DeliveryUncertain as e:
            claims.release_claim(self.db, claim.id, note=f"uncertain: {e}"[:500])
            log.warning("on-demand post in %s uncertain: %s", channel, e)
            return Outcome("uncertain")
        except Exception as e:
            # Nothing reached the channel (Slack refused, or never got it): the claim is given
            # back, so the manager can try again, say after inviting the bot; that click looks first.
            claims.release_claim(self.db, claim.id, note=f"failed: {e!r}"[:500])
            raise
        permalink = self.permalink(client, channel, delivered.ts)
        # The post is recorded; its DMs go now, once (a lost answer's retry finds them sent).
        self.featured.deliver(ws=ws)
        return Outcome("found" if delivered.found else "posted", permalink)

    # --- closing the loop -----------------------------------------------------------------

    def permalink(self, client: WebClient, channel: str, ts: str) -> str:
        try:
            return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except Exception as e:  # noqa: BLE001 - the post exists; only its link is missing
            log.warning("no permalink for %s/%s: %r", channel, ts, e)
            return ""

    def report_channel_problem(self, client: WebClient, schedule: ChannelSchedule, error: str) -> None:
        """Tell the configured managers, once per channel and error, each in their language."""
        message_id = f"channel_error.dm.{schedule.spec.kind}"
        try:
            group = self.managers.group_members(client, schedule.team_id)
        except ManagerCheckUnavailable as e:
            log.warning("manager group unreadable (%s); telling IMPACT_MANAGERS only", e)
            group = frozenset()
        recipients = set(self.settings.managers) | group
        if not recipients:
            log.warning("no manager to tell about %s in %s", error, schedule.channel_id)
        for user in sorted(recipients):
            lang = self.language_for_user(client, schedule.team_id, schedule.workspace_id, user)
            text = t(message_id, lang, channel=schedule.channel_id, error=error)
            try:
                client.chat_postMessage(channel=user, text=text)
            except Exception as e:  # noqa: BLE001 - never resent: the DM may have arrived
                log.warning("could not tell manager %s: %r", user, e)
