"""Stand-up prompts: a rotating catalog of impact questions (PRODUCT.md "Stand-up prompts")."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from bot.messages import t
from bot.render import TEXT_LIMIT, blockquote, context, notification_text, said_line, section, shorten
from domain.story import Story, clean_text

# Questions about the effect on customers, not about activity ("what did you do yesterday").
BUILTIN_PROMPTS: tuple[str, ...] = (
    "Which customer will notice today's work, and how?",
    "What changed for a customer because of something you did yesterday?",
    "What support do you need from me to make a customer's day better?",
    "Which customer problem would you fix first if you had a free hour?",
    "Which customer would be disappointed if today's work slipped a week?",
    "What did a customer say or do recently that surprised you?",
    "Where did a customer get stuck this week, and what would unstick them?",
    "Which piece of today's work saves a customer the most time?",
    "What would a customer thank us for if they saw what you are working on?",
    "Which customer could we delight this week with a small change?",
    "What is one thing customers still have to work around that we could remove?",
    "How will we know a customer benefited from what you ship today?",
    "Which customer conversation should the whole team hear about?",
    "What risk to a customer's success do you see that we should act on?",
)

VOICE_QUOTE_LIMIT = 500  # the voice is an aside to the question, so keep it short


def _distinct(catalog: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    prompts: list[str] = []
    for prompt in catalog:
        key = clean_text(prompt).strip()
        if key and key not in seen:
            seen.add(key)
            prompts.append(key)
    return prompts


def next_prompt(catalog: Sequence[str], last_prompt: str | None, slot_key: str) -> str:
    """The prompt for one scheduled slot, e.g. slot_key "C123|2026-11-23T09:00".

    The same catalog, last prompt and slot key always give the same prompt (a SHA-256 of the key,
    not Python's per-process hash), and never `last_prompt` again while the catalog has two or
    more distinct prompts. Blank entries are ignored; an empty catalog uses BUILTIN_PROMPTS.
    """
    prompts = _distinct(catalog) or list(BUILTIN_PROMPTS)
    last = clean_text(last_prompt or "").strip()
    choices = [p for p in prompts if p != last] or prompts
    digest = hashlib.sha256(slot_key.encode("utf-8")).digest()
    return choices[int.from_bytes(digest[:8], "big") % len(choices)]


def prompt_blocks(prompt: str, voice: Story | None, lang: str) -> list[dict[str, Any]]:
    """The stand-up post: the question, then optionally one customer quote.

    The prompt may be a manager's custom text, so it is escaped like any typed text. With
    anonymous consent the voice shows the quote only, without customer or contact.
    """
    text = clean_text(prompt).strip()
    if not text:
        raise ValueError("a stand-up prompt needs some text")
    blocks: list[Block] = [section(shorten(text, TEXT_LIMIT))]
    if voice is not None and voice.quote.strip():
        title = t("prompt.voice", lang)
        quote = shorten(voice.quote.strip(), VOICE_QUOTE_LIMIT, blockquote)
        blocks.append(section(f"{title}\n{quote}"))
        said = said_line(voice, lang)
        if said:
            blocks.append(context(said))
    return [b.to_dict() for b in blocks]


def prompt_fallback_text(prompt: str) -> str:
    """Notification text for the stand-up post: the prompt, escaped and shortened."""
    return notification_text(prompt.strip())
