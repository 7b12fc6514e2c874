"""Parsing what users type: `/impact` text, Slack's escaped markup, quick logs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.story import MAX_CREDITED, clean_text

RESERVED = ("help", "list", "mine", "search", "story", "schedule", "stats", "settings", "references")
SEPARATORS = (":", " - ", " — ", " | ", " – ")
MAX_CUSTOMER = 200

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")
CHANNEL_REF = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
LINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]*:[^>|]*)(?:\|([^>]*))?>")
SPECIAL = re.compile(r"<!([^>|]+)(?:\|([^>]*))?>")
# Slack escapes exactly these three in what it sends; nothing else is an entity.
ENTITY = re.compile(r"&(amp|lt|gt);")
ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
BROADCASTS = ("channel", "here", "everyone")


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
    """User IDs mentioned as <@U…> in Slack's escaped text, first mention first, at most
    MAX_CREDITED of them (the cap of credits on a story)."""
    seen: list[str] = []
    for user in USER_MENTION.findall(text or ""):
        if user not in seen:
            seen.append(user)
    return tuple(seen[:MAX_CREDITED])


def _special(match: re.Match[str]) -> str:
    """<!here> -> '@here', <!subteam^S1|@team> -> '@team', <!date^…|fallback> -> 'fallback'."""
    name, label = match.group(1), match.group(2)
    if name.startswith("date^"):
        return label or ""
    if label:
        return label if label.startswith("@") else f"@{label}"
    if name in BROADCASTS:
        return f"@{name}"
    return f"@{name.split('^', 1)[-1]}"


def _link(match: re.Match[str]) -> str:
    """<https://x.io|x.io> -> 'x.io'; <mailto:a@b.io|a@b.io> -> 'a@b.io'; others 'label (url)'."""
    url, label = match.group(1), match.group(2)
    if not label:
        return url.removeprefix("mailto:")
    bare = re.sub(r"^(?:https?://|mailto:)", "", url, flags=re.IGNORECASE)
    if label in (url, bare, bare.rstrip("/")):
        return label
    return f"{label} ({url})"


def unescape(text: str) -> str:
    """Undo Slack's escaping of &, < and > exactly once (html.unescape would also decode
    entities such as '&copy;' that the user typed literally)."""
    return ENTITY.sub(lambda m: ENTITIES[m.group(1)], text)


def plain_text(slack_text: str) -> str:
    """What the user typed, from the escaped markup Slack sends for commands and messages.

    The result is stored as is and escaped once when shown. A typed @channel (sent as
    <!channel>) is kept as the words '@channel': every renderer shows user text escaped in
    verbatim mrkdwn or plain_text, so it cannot ping. Links become their text (the URL is kept
    when the label differs), channel references '#name', user mentions are dropped (they are
    credits), control characters other than newline and tab are dropped.
    """
    text = USER_MENTION.sub("", clean_text(slack_text))
    text = CHANNEL_REF.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = SPECIAL.sub(_special, text)
    text = LINK.sub(_link, text)
    text = unescape(text)
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
