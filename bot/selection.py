"""Choosing the customer of the week (PRODUCT.md "Choosing the customer of the week").

Pure and deterministic: the same stories, channel history and clock give the same choice, so a
preview shows exactly what the scheduler will post, and Shuffle simply moves down the ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.messages import t
from bot.render import section
from domain.story import Story

CANDIDATE_KINDS = frozenset({"praise", "referral"})
FRESH_FOR = timedelta(days=30)
RECENT_POSTS = 4  # a customer featured in this many of the channel's last posts is avoided


@dataclass(frozen=True)
class ChannelHistory:
    """What a channel has already seen, as far as the choice is concerned."""

    featured_story_ids: frozenset[int]  # stories ever featured in this channel
    recent_customers: tuple[str, ...]  # customers of the channel's last story posts, newest first
    tags: tuple[str, ...] = ()  # the channel's preferred tags


def _norm_customer(name: str) -> str:
    return name.strip().casefold()


def _norm_tag(tag: str) -> str:
    return tag.strip().lstrip("#").strip().casefold()


def _aware(when: datetime) -> datetime:
    # Stored times are UTC; a naive one (e.g. from SQLite) is read as UTC rather than crashing.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def matches_query(story: Story, query: str) -> bool:
    """True when the customer contains `query` (any case) or a tag equals it (ignoring '#')."""
    text = query.strip().casefold()
    if not text:
        return True
    tag = _norm_tag(query)
    return text in story.customer.casefold() or (bool(tag) and tag in {_norm_tag(x) for x in story.tags})


def rank_candidates(
    stories: Sequence[Story],
    history: ChannelHistory,
    now: datetime,
    *,
    appreciation: Mapping[int, int] | None = None,
    query: str = "",
) -> list[Story]:
    """The channel's candidate stories, best first.

    Candidates are stories of kind praise or referral (the caller has already left out deleted
    ones), restricted by `query` when given (customer contains it, or a tag equals it); a query
    that matches nothing gives an empty list.

    The ranking is one ascending sort key; each element decides only when all before it tie:

    1. customer not among the channel's last 4 story posts (so a recent customer is repeated
       only when no other customer is available);
    2. never featured in this channel (a story already featured here still ranks, last, so a
       channel whose every story was featured still gets the best one rather than nothing);
    3. shares a tag with the channel's tags;
    4. fresh: created within 30 days of `now` (so with no fresh story, the best older story never
       featured here comes first);
    5. richer: more of impact, contact and credited colleagues filled in (`Story.is_rich`);
    6. more appreciation: `appreciation[story.id]`, reactions on earlier posts (0 when missing;
       when no mapping is given, each story's own `reactions` count);
    7. newer `created_at` (stories without a date last);
    8. higher id.
    """
    recent = {_norm_customer(c) for c in history.recent_customers[:RECENT_POSTS]}
    channel_tags = {_norm_tag(tag) for tag in history.tags} - {""}
    now = _aware(now)

    def applause(story: Story) -> int:
        if appreciation is None:
            return story.reactions
        return appreciation.get(story.id, 0)

    def sort_key(story: Story) -> tuple[Any, ...]:
        created = _aware(story.created_at) if story.created_at is not None else None
        return (
            _norm_customer(story.customer) in recent,
            story.id in history.featured_story_ids,
            not channel_tags.intersection(_norm_tag(tag) for tag in story.tags),
            created is None or now - created > FRESH_FOR,
            -story.is_rich,
            -applause(story),
            -created.timestamp() if created is not None else float("inf"),
            -story.id,
        )

    candidates = [s for s in stories if s.kind in CANDIDATE_KINDS and matches_query(s, query)]
    return sorted(candidates, key=sort_key)


def choose_story(
    stories: Sequence[Story],
    history: ChannelHistory,
    now: datetime,
    *,
    appreciation: Mapping[int, int] | None = None,
    query: str = "",
    skip: int = 0,
) -> Story | None:
    """The story to post, or None when there is none (the caller posts an invitation).

    `skip` is how many times Shuffle was pressed: it moves to the next candidate in the ranking
    of `rank_candidates` and wraps around after the last one.
    """
    ranked = rank_candidates(stories, history, now, appreciation=appreciation, query=query)
    if not ranked:
        return None
    return ranked[skip % len(ranked)]


def invitation_blocks(lang: str) -> list[dict[str, Any]]:
    """Posted instead of an empty story: an invitation to share one with `/impact`."""
    return [section(t("story.invitation", lang)).to_dict()]
