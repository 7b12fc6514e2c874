"""Hostile typed text for property tests, and checks that a Slack payload is inert.

Typed text is generated from fragments Slack would treat as markup (mentions, specials, links,
entities, @channel typed as words), control characters and unicode, mixed with arbitrary text,
and up to each field's stored limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.quicklog import unescape
from domain.story import CONSENTS, KINDS, LIMITS, MAX_TAG_LENGTH, MAX_TAGS, Story

AUTHOR = "UAUTHOR"
CREDITED = ("UCRED1", "WCRED2")
CHANNELS = ("C0123ABC", "G0456DEF")
GOOD_SOURCES = (
    "https://acme.slack.com/archives/C1/p1700000000000100?thread_ts=1&cid=C1",
    "http://example.com/a?b=1&c=<2>".replace("<", "%3C").replace(">", "%3E"),
)

FRAGMENTS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    "<@U123>",
    "<@UAUTHOR>",
    "<@W123|bob>",
    "<#C123>",
    "<#C1|general>",
    "<!subteam^S1>",
    "<!subteam^S1|@team>",
    "<http://evil.example|click>",
    "<https://evil.example>",
    "<http://x|y>",
    "<mailto:a@evil.example|mail>",
    "<!date^1700000000^{date_short}|x>",
    "@channel",
    "@here",
    "@everyone",
    "#general",
    "http://evil.example/path",
    "www.evil.example",
    "&",
    "&amp;",
    "&lt;!here&gt;",
    "&#60;",
    "<",
    ">",
    "\n",
    "\n>",
    "\r\n",
    "\x00",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u202e",
    "\u200b",
    "🎉",
    "ß",
    "*",
    "_",
    "~",
    "`",
    "```",
    "|",
    " ",
)

piece = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12))
mixed = st.lists(piece, max_size=40).map("".join)
# Long runs of one fragment push escaping and shortening to the limits.
long_run = st.builds(lambda f, n: f * n, st.sampled_from(FRAGMENTS), st.integers(0, 3000))


def typed(limit: int) -> st.SearchStrategy[str]:
    """Hostile text within a field's limit (not cleaned: renderers must cope with any string)."""
    return st.one_of(mixed, long_run, st.builds(str.__add__, long_run, mixed)).map(lambda s: s[:limit])


def present(text: str) -> bool:
    """What validate() demands of customer and quote: something visible."""
    return bool(text.strip())


user_ids = st.one_of(st.sampled_from((AUTHOR, *CREDITED)), typed(40))
sources = st.one_of(st.just(""), st.sampled_from(GOOD_SOURCES), st.sampled_from(FRAGMENTS), typed(300))
tags = st.lists(typed(MAX_TAG_LENGTH), max_size=MAX_TAGS).map(tuple)
created = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)),
)


@st.composite
def stories(draw: st.DrawFn, size: int = 1) -> Story:
    """A stored story; `size` > 1 keeps texts short (for lists of many stories)."""
    cut = (lambda n: n) if size == 1 else (lambda n: min(n, 300))
    story = Story(
        id=draw(st.integers(1, 10**9)),
        workspace_id=1,
        customer=draw(typed(cut(LIMITS["customer"]))),
        quote=draw(typed(cut(LIMITS["quote"]))),
        contact=draw(typed(cut(LIMITS["contact"]))),
        impact=draw(typed(cut(LIMITS["impact"]))),
        kind=draw(st.sampled_from(KINDS)),
        tags=draw(tags),
        credited=tuple(draw(st.lists(user_ids, max_size=25))),
        consent=draw(st.sampled_from(CONSENTS)),
        source=draw(sources),
        author=draw(st.one_of(st.just(AUTHOR), user_ids)),
        channel="C1",
        created_at=draw(created),
        extra={"note": draw(mixed)},
    )
    # Stored stories always have a customer and a quote (validate() requires them).
    assume(present(story.customer) and present(story.quote))
    return story


# --- Checks ---------------------------------------------------------------------------------

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# The fallback is the date as the language writes it (bot.dates): "Mar 4, 2030", "04.03.2030".
BOT_DATE = re.compile(r"<!date\^\d+\^\{date_short\}\|[0-9A-Za-zäöüÄÖÜé., ]+>")
BROADCAST_WORD = re.compile(r"@(?:channel|here|everyone)\b", re.IGNORECASE)


def text_objects(node: Any) -> list[dict[str, Any]]:
    """Every text object (plain_text or mrkdwn) anywhere in a payload."""
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


def allowed_markup(
    users: Iterable[str] = (), channels: Iterable[str] = (), urls: Iterable[str] = ()
) -> re.Pattern[str]:
    """The markup the bot itself builds: mentions of stored IDs, channels, dates, validated links."""
    parts = [BOT_DATE.pattern]
    parts += [re.escape(f"<@{u}>") for u in users]
    parts += [re.escape(f"<#{c}>") for c in channels]
    parts += [re.escape("<" + u.replace("&", "&amp;") + "|") + r"[^<>|]*>" for u in urls]
    return re.compile("|".join(parts))


def assert_inert(text: str, allowed: re.Pattern[str]) -> None:
    """mrkdwn in which only the bot's own markup is live: no '<' from user text, and '>' only as
    the block-quote marker the renderer puts at the start of a line."""
    rest = allowed.sub("", text)
    assert "<" not in rest, f"live markup in {text[:400]!r}"
    for line in rest.split("\n"):
        assert ">" not in line[1:], f"unescaped '>' in {text[:400]!r}"
    assert not CONTROL.search(text), f"control character in {text[:400]!r}"


def assert_text_objects(payload: Any, allowed: re.Pattern[str]) -> None:
    """Every mrkdwn object is verbatim and inert; every text object is non-empty, in limits."""
    for obj in text_objects(payload):
        assert 0 < len(obj["text"]) <= 3000
        assert not CONTROL.search(obj["text"]), obj
        if obj["type"] == "mrkdwn":
            # verbatim: Slack does not auto-link typed @channel, #channel or URLs.
            assert obj.get("verbatim") is True, obj
            assert_inert(obj["text"], allowed)


def assert_blocks(blocks: list[dict[str, Any]], allowed: re.Pattern[str], limit: int = 50) -> None:
    """Valid Block Kit within Slack's limits, with nothing live from user text."""
    assert 0 < len(blocks) <= limit
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()  # slack_sdk's own checks of Slack's limits
        if block["type"] == "header":
            assert 0 < len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert 0 < len(block["text"]["text"]) <= 3000
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75
                assert len(element.get("value", "")) <= 2000
    assert_text_objects(blocks, allowed)


def assert_view(view: dict[str, Any], allowed: re.Pattern[str], limit: int = 100) -> None:
    View(**view).validate_json()
    assert len(view["blocks"]) <= limit
    assert len(view.get("private_metadata") or "") <= 3000
    assert_blocks(view["blocks"], allowed, limit)


def shown_once(escaped: str) -> str:
    """Escaped text back to what was typed: the one unescape Slack does when it shows it."""
    return unescape(escaped)
