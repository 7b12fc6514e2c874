"""Pure renderers: story -> Block Kit. Everything users typed is escaped here, exactly once.

The rules every renderer follows (PRODUCT.md "The story post"):
- user text is stored as typed and escaped (&, <, >) once, when it is shown;
- every mrkdwn text object is sent with verbatim: true, so Slack's automatic parsing never turns
  a typed @channel, @here, #channel or bare URL into a live ping or link;
- mentions come only from stored, validated user IDs; links only from validated http(s) URLs;
- display text is shortened to Slack's limits, the stored story never is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.dates import short_date, slack_date
from bot.messages import t
from domain.story import KINDS, MAX_CREDITED, Story, clean_text, is_user_id, is_web_url
from domain.viewer import Viewer

TEXT_LIMIT = 3000  # section text, and any text object
HEADER_LIMIT = 150
BLOCK_LIMIT = 50  # blocks in a message
BUTTON_LIMIT = 75
CONFIRM_TEXT_LIMIT = 300
NOTIFICATION_LIMIT = 300  # the top-level `text` of a post: a notification, not the story
NAME_LIMIT = 200  # customer and contact as shown beside a quote
QUERY_LIMIT = 200  # a search query echoed back
ELLIPSIS = "…"

ACTION_EDIT = "story_edit"
ACTION_DELETE = "story_delete"

CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
# @channel, @here and @everyone in a top-level `text`, where no verbatim flag exists.
BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
WORD_JOINER = "\u2060"  # invisible, and keeps Slack from reading "@channel" as a broadcast


def escape(text: str) -> str:
    """Escape &, < and > so Slack shows user text as text: no pings, no live links.

    Control characters other than newline and tab are dropped on the way.
    """
    return clean_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int, transform: Callable[[str], str] = escape) -> str:
    """transform(text) cut to at most `limit` characters by shortening the raw text.

    Cutting the raw text before escaping never splits an entity such as '&amp;'. The longest
    raw prefix that fits is found by bisection, so any text costs a few transforms.
    """
    out = transform(text)
    if len(out) <= limit:
        return out
    fits, too_long = 0, len(text)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if len(transform(text[:middle].rstrip()) + ELLIPSIS) <= limit:
            fits = middle
        else:
            too_long = middle
    kept = transform(text[:fits].rstrip())
    return kept + ELLIPSIS if kept.strip() else ELLIPSIS[:limit]


def one_line(text: str) -> str:
    """Text on one line: runs of white space (newlines too) become one space."""
    return " ".join(clean_text(text).split())


def mrkdwn(text: str) -> MarkdownTextObject:
    """A mrkdwn text object without Slack's automatic parsing (verbatim), within the limit.

    Manual markup the bot builds (<@U…> from stored IDs, <#C…>, <!date…>, <url|label> from
    validated URLs) still works; typed @channel, #channel or URLs stay text.
    """
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - len(ELLIPSIS)] + ELLIPSIS
    return MarkdownTextObject(text=text, verbatim=True)


def section(text: str) -> SectionBlock:
    """A section of already-safe mrkdwn (escaped user text, catalog text), verbatim."""
    return SectionBlock(text=mrkdwn(text))


def context(text: str) -> ContextBlock:
    """A context line of already-safe mrkdwn, verbatim."""
    return ContextBlock(elements=[mrkdwn(text)])


def button_text(text: str) -> str:
    """A button label within Slack's 75 characters."""
    return shorten(text, BUTTON_LIMIT, one_line)


def notification_text(user_text: str, limit: int = NOTIFICATION_LIMIT) -> str:
    """The top-level `text` of a post or reply built from user text: escaped once, on one line
    of at most `limit` characters, with @channel/@here/@everyone unable to broadcast.

    Slack reads this `text` as mrkdwn without a verbatim flag, and shows it in notifications.
    """

    def safe(raw: str) -> str:
        return BROADCAST.sub("@" + WORD_JOINER, escape(one_line(raw)))

    return shorten(user_text, limit, safe)


def query_text(message_id: str, lang: str, query: str) -> str:
    """A catalog message echoing a typed query ({query}), escaped and shortened, e.g.
    query_text("search.title", "en", words) -> 'Stories matching “…”:'."""
    return t(message_id, lang, query=notification_text(query, QUERY_LIMIT))


def blockquote(text: str) -> str:
    """Escaped text as a Slack block quote, line by line."""
    return "\n".join(f">{line}" for line in escape(text).split("\n"))


def mention(user_id: str) -> str:
    """A mention built by the bot from a stored user ID, never from typed text ('' otherwise)."""
    return f"<@{user_id}>" if is_user_id(user_id) else ""


def channel_mention(channel_id: str) -> str:
    """<#C…> for a channel ID; anything else is shown as escaped text."""
    return f"<#{channel_id}>" if CHANNEL_ID.fullmatch(channel_id or "") else escape(channel_id)


def link(url: str, label: str) -> str:
    """<url|label> for a validated http(s) URL with the label escaped; the label alone otherwise."""
    shown = escape(one_line(label))
    if not is_web_url(url):
        return shown
    return f"<{url.replace('&', '&amp;')}|{shown}>"


def format_date(when: datetime | None, lang: str = "en") -> str:
    """A date Slack renders in each reader's own time zone; the fallback is the UTC date as
    `lang` writes it (see bot.dates)."""
    return slack_date(when, lang)


def kind_label(kind: str, lang: str) -> str:
    """A story's kind as `lang` names it ("Praise", "Lob", "Compliment"); an unknown (imported)
    kind as stored."""
    return t(f"kind.{kind}", lang) if kind in KINDS else kind


def customer_name(story: Story, lang: str) -> str:
    """The customer as a channel post names them: nobody under anonymous consent."""
    return story.customer if story.consent != "anonymous" else ""


def shown_to(story: Story, viewer: Viewer, lang: str) -> Story:
    """The story as `viewer` may see it: under anonymous consent, anyone but its author and
    managers gets "A customer" and no contact. Only display fields change; the id stays."""
    if viewer.sees_names(story):
        return story
    return replace(story, customer=t("story.anonymous", lang), contact="")


def story_header_text(story: Story, lang: str) -> str:
    """The header, escaped like all user text and cut to Slack's 150 characters."""
    name = one_line(customer_name(story, lang))
    if not name:
        return t("story.header_anonymous", lang)[:HEADER_LIMIT]
    # The name is shortened to what the header leaves it, wherever the language puts it.
    room = HEADER_LIMIT - len(t("story.header", lang, customer=""))
    return t("story.header", lang, customer=shorten(name, room))


def said_line(story: Story, lang: str) -> str:
    """'— contact, customer' escaped, or '' under anonymous consent."""
    if story.consent == "anonymous" or not one_line(story.customer):
        return ""
    customer = shorten(one_line(story.customer), NAME_LIMIT)
    if one_line(story.contact):
        contact = shorten(one_line(story.contact), NAME_LIMIT)
        return t("story.said", lang, contact=contact, customer=customer)
    return t("story.said_customer", lang, customer=customer)


def story_body_blocks(story: Story, lang: str) -> list[Block]:
    """The quote, who said it and what changed, within Slack's text limits."""
    blocks: list[Block] = [section(shorten(story.quote or " ", TEXT_LIMIT, blockquote))]
    said = said_line(story, lang)
    if said:
        blocks.append(context(said))
    if story.impact.strip():
        room = TEXT_LIMIT - len(t("story.what_changed", lang, impact=""))
        blocks.append(section(t("story.what_changed", lang, impact=shorten(story.impact.strip(), room))))
    return blocks


def credited_users(story: Story) -> list[str]:
    """The story's credited user IDs as the bot may mention them: valid, distinct, capped."""
    users: list[str] = []
    for user in story.credited:
        if is_user_id(user) and user not in users:
            users.append(user)
    return users[:MAX_CREDITED]


def credit_line(story: Story, lang: str) -> str:
    """'Shared by @author · Made possible by @x, @y · date' (parts without a valid ID left out)."""
    parts = [t("story.shared_by", lang, author=mention(story.author))] if is_user_id(story.author) else []
    credited = credited_users(story)
    if credited:
        parts.append(t("story.made_possible", lang, people=", ".join(mention(u) for u in credited)))
    date = format_date(story.created_at, lang)
    if date:
        parts.append(date)
    return " · ".join(parts)


def _with_credits(blocks: list[Block], story: Story, lang: str) -> list[Block]:
    line = credit_line(story, lang)
    return [*blocks, context(line)] if line else blocks


def story_post_blocks(story: Story, lang: str) -> list[dict[str, Any]]:
    """The customer-of-the-week post."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=story_header_text(story, lang)))]
    blocks = _with_credits(blocks + story_body_blocks(story, lang), story, lang)
    blocks.append(section(t("story.question", lang)))
    return [b.to_dict() for b in blocks]


def story_fallback_text(story: Story, lang: str) -> str:
    """Notification text for the post: header and the start of the quote, escaped."""
    name = one_line(customer_name(story, lang))
    head = t("story.header", lang, customer=name) if name else t("story.header_anonymous", lang)
    return notification_text(f"{head}: {story.quote}")


def edit_delete_actions(story: Story, lang: str) -> ActionsBlock:
    value = str(story.id)
    template = t("confirm.delete_text", lang, customer="")
    customer = shorten(one_line(story.customer), max(1, CONFIRM_TEXT_LIMIT - len(template)))
    return ActionsBlock(
        block_id=f"story_actions_{story.id}",
        elements=[
            ButtonElement(text=button_text(t("button.edit", lang)), action_id=ACTION_EDIT, value=value),
            ButtonElement(
                text=button_text(t("button.delete", lang)),
                action_id=ACTION_DELETE,
                value=value,
                style="danger",
                confirm=ConfirmObject(
                    title=t("confirm.delete_title", lang)[:100],
                    text=MarkdownTextObject(
                        text=t("confirm.delete_text", lang, customer=customer)[:CONFIRM_TEXT_LIMIT],
                        verbatim=True,
                    ),
                    confirm=t("confirm.delete_yes", lang)[:30],
                    deny=t("confirm.delete_no", lang)[:30],
                ),
            ),
        ],
    )


def source_line(story: Story, lang: str) -> str:
    """'Source: <url|link>' for a stored http(s) source; '' otherwise."""
    if not is_web_url(story.source):
        return ""
    return t("story.source", lang, link=link(story.source, urlsplit(story.source).hostname or story.source))


def confirmation_blocks(story: Story, lang: str, message_id: str = "saved") -> list[dict[str, Any]]:
    """Ephemeral confirmation: the story as it will appear, with Edit and Delete.

    Built as plain dicts, once: it answers every quick log, after the ack but in the same
    process, where slack_sdk.models' objects and their to_dict cost more than the rest of the
    rendering. The blocks are those the model classes give (tests/test_ack_path_render.py
    builds them with the models and compares).
    """
    blocks = [_section_dict(t(message_id, lang)), _header_dict(story_header_text(story, lang))]
    blocks.append(_section_dict(shorten(story.quote or " ", TEXT_LIMIT, blockquote)))
    said = said_line(story, lang)
    if said:
        blocks.append(_context_dict(said))
    if story.impact.strip():
        room = TEXT_LIMIT - len(t("story.what_changed", lang, impact=""))
        impact = shorten(story.impact.strip(), room)
        blocks.append(_section_dict(t("story.what_changed", lang, impact=impact)))
    credits = credit_line(story, lang)
    if credits:
        blocks.append(_context_dict(credits))
    source = source_line(story, lang)
    if source:
        blocks.append(_context_dict(source))
    blocks.append(_edit_delete_dict(story, lang))
    return blocks


# The confirmation's blocks as plain dicts, exactly as the slack_sdk.models above serialise.


def _mrkdwn_dict(text: str) -> dict[str, Any]:
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - len(ELLIPSIS)] + ELLIPSIS
    return {"text": text, "type": "mrkdwn", "verbatim": True}


def _plain_dict(text: str, emoji: bool = True) -> dict[str, Any]:
    plain = {"text": text, "type": "plain_text"}
    return {"emoji": True, **plain} if emoji else plain


def _section_dict(text: str) -> dict[str, Any]:
    return {"text": _mrkdwn_dict(text), "type": "section"}


def _context_dict(text: str) -> dict[str, Any]:
    return {"elements": [_mrkdwn_dict(text)], "type": "context"}


def _header_dict(text: str) -> dict[str, Any]:
    return {"text": _plain_dict(text, emoji=False), "type": "header"}


def _edit_delete_dict(story: Story, lang: str) -> dict[str, Any]:
    """edit_delete_actions(story, lang).to_dict(), without the models."""
    value = str(story.id)
    template = t("confirm.delete_text", lang, customer="")
    customer = shorten(one_line(story.customer), max(1, CONFIRM_TEXT_LIMIT - len(template)))
    confirm = {
        "title": _plain_dict(t("confirm.delete_title", lang)[:100]),
        "text": {
            "text": t("confirm.delete_text", lang, customer=customer)[:CONFIRM_TEXT_LIMIT],
            "type": "mrkdwn",
            "verbatim": True,
        },
        "confirm": _plain_dict(t("confirm.delete_yes", lang)[:30]),
        "deny": _plain_dict(t("confirm.delete_no", lang)[:30]),
    }
    edit = {
        "action_id": ACTION_EDIT,
        "text": _plain_dict(button_text(t("button.edit", lang))),
        "type": "button",
        "value": value,
    }
    delete = {
        "action_id": ACTION_DELETE,
        "confirm": confirm,
        "style": "danger",
        "text": _plain_dict(button_text(t("button.delete", lang))),
        "type": "button",
        "value": value,
    }
    return {"block_id": f"story_actions_{story.id}", "elements": [edit, delete], "type": "actions"}


def story_summary(story: Story, viewer: Viewer, lang: str) -> str:
    """One list line as `viewer` may see it: *Customer* · kind · date, then the start of the quote."""
    shown = shown_to(story, viewer, lang)
    head = f"*{shorten(one_line(shown.customer), 100)}* · {escape(kind_label(story.kind, lang))}"
    if story.created_at:
        head += f" · {short_date(story.created_at, lang)}"
    return head + "\n" + shorten(story.quote or " ", 280, blockquote)


def list_blocks(stories: list[Story], title: str, lang: str, viewer: Viewer) -> list[dict[str, Any]]:
    """An ephemeral list of stories as `viewer` may see them, with Edit and Delete on those they
    may change (the author's, or all for a manager), within Slack's 50 blocks.

    `title` is safe mrkdwn (catalog text; a typed query goes through query_text)."""
    blocks: list[Block] = [section(title)]
    for story in stories:
        entry: list[Block] = [section(story_summary(story, viewer, lang))]
        if viewer.may_change(story):
            entry.append(edit_delete_actions(story, lang))
        if len(blocks) + len(entry) > BLOCK_LIMIT:
            break
        blocks += entry
    return [b.to_dict() for b in blocks]


def _chunks(text: str, size: int) -> Iterable[str]:
    """`text` in pieces of at most `size`, cut at a line break or space where there is one,
    never inside an entity such as '&amp;'."""
    while len(text) > size:
        cut = max(text.rfind("\n", 0, size), text.rfind(" ", 0, size))
        if cut < size // 2:
            cut = size
            amp = text.rfind("&", cut - 4, cut)
            if amp >= 0 and ";" not in text[amp:cut]:
                cut = amp  # an entity such as '&amp;' would be split: cut before it
        yield text[:cut]
        text = text[cut:].lstrip(" ")
    yield text


def text_blocks(*paragraphs: str) -> list[dict[str, Any]]:
    """Sections of already-safe mrkdwn text, skipping empty ones, split under the limit."""
    blocks: list[dict[str, Any]] = []
    for text in paragraphs:
        for chunk in _chunks(text, TEXT_LIMIT):
            if chunk.strip():
                blocks.append(section(chunk).to_dict())
    return blocks[:BLOCK_LIMIT]


def _escaped_pieces(raw: str, size: int) -> Iterable[str]:
    """`raw` escaped, in pieces of at most `size`, cut on the raw text (never inside '&amp;')."""
    while raw:
        n = min(len(raw), size)
        excess = len(escape(raw[:n])) - size
        if excess > 0:
            # Each dropped raw character shortens the escaped text by at least one, and size // 5
            # raw characters always fit (escaping at most quintuples a character).
            n = max(n - excess, size // 5)
        yield escape(raw[:n])
        raw = raw[n:]


def echo_blocks(message: str, typed: str) -> list[dict[str, Any]]:
    """A message followed by the user's own text, escaped, so nothing they typed is lost.

    The typed text is shown in code blocks of at most Slack's 3000 characters each.
    """
    fence = "```"
    inner = _escaped_pieces(clean_text(typed), TEXT_LIMIT - 2 * len(fence))
    return text_blocks(message, *[f"{fence}{p}{fence}" for p in inner if p.strip()])


def divider() -> dict[str, Any]:
    return DividerBlock().to_dict()
