"""Property tests: whatever users type, rendered posts ping nobody, link nowhere, and fit Slack.

Typed text is generated from fragments Slack would treat as markup (mentions, links, entities),
mixed with arbitrary text, and up to each field's stored limit.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.prompts import prompt_blocks, prompt_fallback_text
from bot.render import confirmation_blocks, story_fallback_text, story_post_blocks
from bot.story import CONSENTS, KINDS, LIMITS, MAX_TAG_LENGTH, MAX_TAGS, Story

AUTHOR = "UAUTHOR"
CREDITED = ("UCRED1",)

FRAGMENTS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<@UAUTHOR>",
    "<#C123>",
    "<!subteam^S1>",
    "<!subteam^S1|@team>",
    "<http://evil.example|click>",
    "<https://evil.example>",
    "<mailto:a@evil.example|mail>",
    "<!date^1700000000^{date_short}|x>",
    "&",
    "&amp;",
    "&lt;!here&gt;",
    "<",
    ">",
    "\n",
    "\n>",
    "*",
    "_",
    "`",
    "|",
    " ",
)

# What the bot itself renders from stored IDs and dates; everything else must be inert.
ALLOWED = re.compile(r"<@UAUTHOR>|<@UCRED1>|<!date\^\d+\^\{date_short\}\|\d{4}-\d{2}-\d{2}>")
LIVE = re.compile(r"<[@#!]|<https?:|<mailto:", re.IGNORECASE)

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BLOCK_LIMIT = 50

piece = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12))
mixed = st.lists(piece, max_size=40).map("".join)
# Long runs of one fragment push escaping and shortening to the limits.
long_run = st.builds(lambda f, n: f * n, st.sampled_from(FRAGMENTS), st.integers(0, 3000))


def typed(limit: int) -> st.SearchStrategy[str]:
    """Text as stored: trimmed and within the field's limit."""
    return st.one_of(mixed, long_run, st.builds(str.__add__, long_run, mixed)).map(
        lambda s: s[:limit].strip()
    )


tags = st.lists(typed(MAX_TAG_LENGTH).filter(bool), max_size=MAX_TAGS).map(tuple)
created = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)),
)


@st.composite
def stories(draw: st.DrawFn) -> Story:
    story = Story(
        id=draw(st.integers(1, 10**9)),
        workspace_id=1,
        customer=draw(typed(LIMITS["customer"])),
        quote=draw(typed(LIMITS["quote"])),
        contact=draw(typed(LIMITS["contact"])),
        impact=draw(typed(LIMITS["impact"])),
        kind=draw(st.sampled_from(KINDS)),
        tags=draw(tags),
        credited=draw(st.sampled_from(((), CREDITED))),
        consent=draw(st.sampled_from(CONSENTS)),
        author=AUTHOR,
        channel="C1",
        created_at=draw(created),
        extra={"note": draw(mixed)},
    )
    # Stored stories always have a customer and a quote (validate() requires them).
    assume(story.customer and story.quote)
    return story


def text_objects(node: Any) -> list[dict[str, Any]]:
    """Every text object (plain_text or mrkdwn) anywhere in a block payload."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            found.append(node)
        for value in node.values():
            found += text_objects(value)
    elif isinstance(node, list):
        for value in node:
            found += text_objects(value)
    return found


def assert_inert(text: str) -> None:
    """mrkdwn text in which only the bot's own mentions and dates are live."""
    rest = ALLOWED.sub("", text)
    assert not LIVE.search(rest), f"live mention or link in {text!r}"
    assert "<" not in rest, f"unescaped '<' in {text!r}"
    # The only '>' left is the block-quote marker the renderer puts at the start of a line.
    for line in rest.split("\n"):
        assert ">" not in line[1:], f"unescaped '>' in {text!r}"


def assert_safe_blocks(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= BLOCK_LIMIT
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()  # slack_sdk's own checks of Slack's limits
        if block["type"] == "header":
            assert 0 < len(block["text"]["text"]) <= HEADER_LIMIT
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= SECTION_LIMIT
    for obj in text_objects(blocks):
        assert 0 < len(obj["text"]) <= SECTION_LIMIT
        # plain_text is shown literally by Slack (no mentions, no links), so only mrkdwn can ping.
        if obj["type"] == "mrkdwn":
            assert_inert(obj["text"])


def unchanged(story: Story) -> tuple[Story, dict[str, Any]]:
    return copy.deepcopy(story), copy.deepcopy(story.extra)


@settings(max_examples=200, deadline=None)
@given(story=stories(), lang=st.sampled_from(("en", "de", "nl")))
def test_story_post_is_inert_and_within_limits(story: Story, lang: str) -> None:
    before = unchanged(story)
    blocks = story_post_blocks(story, lang)
    assert_safe_blocks(blocks)
    assert_inert(story_fallback_text(story, lang))
    mrkdwn = "\n".join(o["text"] for o in text_objects(blocks) if o["type"] == "mrkdwn")
    assert mrkdwn.count("<@UAUTHOR>") == 1
    assert mrkdwn.count("<@UCRED1>") == len(story.credited)
    assert (story, story.extra) == before


@settings(max_examples=200, deadline=None)
@given(story=stories(), message_id=st.sampled_from(("saved", "updated")))
def test_confirmation_is_inert_and_within_limits(story: Story, message_id: str) -> None:
    before = unchanged(story)
    assert_safe_blocks(confirmation_blocks(story, "en", message_id))
    assert (story, story.extra) == before


@settings(max_examples=200, deadline=None)
@given(prompt=typed(5000).filter(bool), voice=st.one_of(st.none(), stories()))
def test_prompt_is_inert_and_within_limits(prompt: str, voice: Story | None) -> None:
    before = unchanged(voice) if voice is not None else None
    blocks = prompt_blocks(prompt, voice, "en")
    assert_safe_blocks(blocks)
    fallback = prompt_fallback_text(prompt)
    assert 0 < len(fallback) <= 300
    assert_inert(fallback)
    if voice is not None:
        assert (voice, voice.extra) == before
        if voice.consent == "anonymous":
            assert len(blocks) == 2  # the quote only: no customer or contact line


def test_fallback_text_is_escaped_once() -> None:
    from bot.render import story_fallback_text

    story = Story(id=1, customer="A&B <x>", quote="fish & chips", author="UAUTHOR")
    assert story_fallback_text(story, "en") == "Customer of the week: A&amp;B &lt;x&gt;: fish &amp; chips"
