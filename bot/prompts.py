"""Stand-up prompts: a rotating catalog of impact questions (PRODUCT.md "Stand-up prompts")."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from bot.messages import t
from bot.render import TEXT_LIMIT, blockquote, context, notification_text, said_line, section, shorten
from domain.story import Story, clean_text

# Questions about the effect on customers, not about activity ("what did you do yesterday"):
# whole sentences in the message catalog, so each language has its own.
BUILTIN_PROMPT_IDS: tuple[str, ...] = tuple(f"prompt.builtin.{n:02d}" for n in range(1, 15))


def builtin_prompts(lang: str) -> tuple[str, ...]:
    """The built-in stand-up prompts in `lang`."""
    return tuple(t(message_id, lang) for message_id in BUILTIN_PROMPT_IDS)


BUILTIN_PROMPTS: tuple[str, ...] = builtin_prompts("en")

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


def next_prompt(catalog: Sequence[str], last_prompt: str | None, slot_key: str, lang: str = "en") -> str:
    """The prompt for one scheduled slot, e.g. slot_key "C123|2026-11-23T09:00".

    The same catalog, last prompt and slot key always give the same prompt (a SHA-256 of the key,
    not Python's per-process hash), and never `last_prompt` again while the catalog has two or
    more distinct prompts. Blank entries are ignored; an empty catalog uses the built-in
    prompts in `lang`.
    """
    prompts = _distinct(catalog) or list(builtin_prompts(lang))
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
