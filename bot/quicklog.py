"""Parsing what users type: `/impact` text, Slack's escaped markup, quick logs."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

RESERVED = ("help", "list", "mine", "search", "story", "schedule", "stats", "settings")
SEPARATORS = (":", " - ", " — ", " | ", " – ")
MAX_CUSTOMER = 200

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
CHANNEL_REF = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
LINK = re.compile(r"<((?:https?|mailto):[^>|]+)(?:\|([^>]*))?>")
SPECIAL = re.compile(r"<!([^>|]+)(?:\|([^>]*))?>")


@dataclass(frozen=True)
class QuickLog:
    """A parsed quick log; customer is empty when none could be found."""

    customer: str
    quote: str
    credited: tuple[str, ...]


def split_command(text: str) -> tuple[str, str]:
    """('search', 'export bug') for 'search export bug'; ('', text) for a quick log."""
    stripped = (text or "").strip()
    first, _, rest = stripped.partition(" ")
    if first.lower() in RESERVED:
        return first.lower(), rest.strip()
    return "", stripped


def mentioned_users(text: str) -> tuple[str, ...]:
    """User IDs mentioned as <@U…> in Slack's escaped text, first mention first."""
    seen: list[str] = []
    for user in USER_MENTION.findall(text or ""):
        if user not in seen:
            seen.append(user)
    return tuple(seen)


def plain_text(slack_text: str) -> str:
    """Slack's escaped markup turned back into what the user typed (mentions dropped)."""
    text = USER_MENTION.sub("", slack_text or "")
    text = CHANNEL_REF.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = LINK.sub(lambda m: m.group(1) if not m.group(2) else f"{m.group(2)} ({m.group(1)})", text)
    text = SPECIAL.sub(lambda m: f"@{m.group(2) or m.group(1)}", text)
    text = html.unescape(text)
    # Removing mentions leaves doubled spaces and dangling punctuation such as "thanks to ,".
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r" +([,.;!?])", r"\1", text)
    return text.strip()


def parse_quick_log(slack_text: str) -> QuickLog:
    """Split 'Customer: quote' (also ' - ', ' — ', ' | '); credits come from <@U…> mentions."""
    credited = mentioned_users(slack_text)
    text = plain_text(slack_text)
    positions = [(text.find(sep), sep) for sep in SEPARATORS if text.find(sep) > 0]
    if positions:
        index, sep = min(positions)
        customer = text[:index].strip()
        quote = text[index + len(sep) :].strip()
        # A long "customer" or one spanning lines is really the start of a quote.
        if customer and quote and len(customer) <= MAX_CUSTOMER and "\n" not in customer:
            return QuickLog(customer=customer, quote=_unquote(quote), credited=credited)
    return QuickLog(customer="", quote=text, credited=credited)


def _unquote(quote: str) -> str:
    """Drop one pair of surrounding quotation marks: "…", “…", '…'."""
    pairs = {'"': '"', "“": "”", "'": "'", "„": "“", "«": "»"}
    if len(quote) >= 2 and quote[0] in pairs and quote[-1] == pairs[quote[0]]:
        return quote[1:-1].strip()
    return quote


def parse_channel_ref(word: str) -> str | None:
    """C123 from '<#C123|general>' (Slack escapes channel mentions in commands)."""
    match = CHANNEL_REF.fullmatch(word.strip())
    return match.group(1) if match else None
