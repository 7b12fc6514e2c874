"""Pure renderers: story -> Block Kit. Everything users typed is escaped here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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

from bot.messages import t
from bot.story import Story

TEXT_LIMIT = 3000
HEADER_LIMIT = 150
BLOCK_LIMIT = 50
ELLIPSIS = "…"

ACTION_EDIT = "story_edit"
ACTION_DELETE = "story_delete"


def escape(text: str) -> str:
    """Escape &, < and > so Slack shows user text as text: no pings, no live links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int, transform: Any = escape) -> str:
    """transform(text) cut to at most `limit` characters by shortening the raw text.

    Cutting the raw text before escaping never splits an entity such as '&amp;'.
    """
    out: str = transform(text)
    if len(out) <= limit:
        return out
    raw = text
    while raw:
        # Escaping can at most quintuple a character ('&' -> '&amp;'), so step by the excess.
        excess = len(out) - limit + len(ELLIPSIS)
        raw = raw[: max(0, len(raw) - max(1, excess // 5))].rstrip()
        out = transform(raw) + ELLIPSIS
        if len(out) <= limit:
            return out
    return ELLIPSIS


def blockquote(text: str) -> str:
    """Escaped text as a Slack block quote, line by line."""
    return "\n".join(f">{line}" for line in escape(text).split("\n"))


def mention(user_id: str) -> str:
    """A mention built by the bot from a stored user ID, never from typed text."""
    return f"<@{user_id}>"


def format_date(when: datetime | None) -> str:
    if when is None:
        return ""
    # Slack renders the date in each reader's own time zone; the fallback is plain UTC.
    return f"<!date^{int(when.timestamp())}^{{date_short}}|{when:%Y-%m-%d}>"


def customer_name(story: Story, lang: str) -> str:
    return story.customer if story.consent != "anonymous" else ""


def story_header_text(story: Story, lang: str) -> str:
    """The header, escaped like all user text and cut to Slack's 150 characters."""
    if story.consent == "anonymous":
        return t("story.header_anonymous", lang)
    prefix = t("story.header", lang, customer="")
    return prefix + shorten(story.customer, HEADER_LIMIT - len(prefix))


def story_body_blocks(story: Story, lang: str) -> list[Block]:
    """The quote, who said it and what changed, within Slack's text limits."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=shorten(story.quote, TEXT_LIMIT, blockquote)))
    ]
    if story.consent == "anonymous":
        said = ""
    elif story.contact:
        said = t("story.said", lang, contact=escape(story.contact), customer=escape(story.customer))
    else:
        said = t("story.said_customer", lang, customer=escape(story.customer))
    if said:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=said[:TEXT_LIMIT])]))
    if story.impact:
        label = t("story.what_changed", lang, impact="")
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=label + shorten(story.impact, TEXT_LIMIT - len(label))))
        )
    return blocks


def credit_line(story: Story, lang: str) -> str:
    """'Shared by @author · Made possible by @x, @y · date'."""
    parts = [t("story.shared_by", lang, author=mention(story.author))]
    if story.credited:
        people = ", ".join(mention(u) for u in story.credited)
        parts.append(t("story.made_possible", lang, people=people))
    date = format_date(story.created_at)
    if date:
        parts.append(date)
    return " · ".join(parts)[:TEXT_LIMIT]


def story_post_blocks(story: Story, lang: str) -> list[dict[str, Any]]:
    """The customer-of-the-week post."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=story_header_text(story, lang)))]
    blocks += story_body_blocks(story, lang)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=credit_line(story, lang))]))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=t("story.question", lang))))
    return [b.to_dict() for b in blocks]


def story_fallback_text(story: Story, lang: str) -> str:
    """Notification text for the post: header and the start of the quote, escaped."""
    name = (
        t("story.header_anonymous", lang)
        if story.consent == "anonymous"
        else t("story.header", lang, customer=story.customer)
    )
    return shorten(f"{name}: {story.quote}", 300)


def edit_delete_actions(story: Story, lang: str) -> ActionsBlock:
    value = str(story.id)
    return ActionsBlock(
        block_id=f"story_actions_{story.id}",
        elements=[
            ButtonElement(text=t("button.edit", lang), action_id=ACTION_EDIT, value=value),
            ButtonElement(
                text=t("button.delete", lang),
                action_id=ACTION_DELETE,
                value=value,
                style="danger",
                confirm=ConfirmObject(
                    title=t("confirm.delete_title", lang),
                    # mrkdwn: the customer name is escaped like any other user text.
                    text=shorten(t("confirm.delete_text", lang, customer=story.customer), 300),
                    confirm=t("confirm.delete_yes", lang),
                    deny=t("confirm.delete_no", lang),
                ),
            ),
        ],
    )


def confirmation_blocks(story: Story, lang: str, message_id: str = "saved") -> list[dict[str, Any]]:
    """Ephemeral confirmation: the story as it will appear, with Edit and Delete."""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=t(message_id, lang)))]
    blocks.append(HeaderBlock(text=PlainTextObject(text=story_header_text(story, lang))))
    blocks += story_body_blocks(story, lang)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=credit_line(story, lang))]))
    blocks.append(edit_delete_actions(story, lang))
    return [b.to_dict() for b in blocks]


def story_summary(story: Story) -> str:
    """One list line: *Customer* · kind · date, then the start of the quote."""
    head = f"*{escape(story.customer[:100])}* · {story.kind}"
    if story.created_at:
        head += f" · {story.created_at:%Y-%m-%d}"
    return head + "\n" + shorten(story.quote, 280, blockquote)


def list_blocks(stories: list[Story], title: str, lang: str) -> list[dict[str, Any]]:
    """An ephemeral list of stories, each with Edit and Delete (at most 24 fit in 50 blocks)."""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=title))]
    for story in stories[: (BLOCK_LIMIT - 2) // 2]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=story_summary(story))))
        blocks.append(edit_delete_actions(story, lang))
    return [b.to_dict() for b in blocks]


def text_blocks(*paragraphs: str) -> list[dict[str, Any]]:
    """Sections of already-safe mrkdwn text, skipping empty ones, split under the limit."""
    blocks: list[dict[str, Any]] = []
    for text in paragraphs:
        for start in range(0, len(text), TEXT_LIMIT):
            chunk = text[start : start + TEXT_LIMIT]
            if chunk.strip():
                blocks.append(SectionBlock(text=MarkdownTextObject(text=chunk)).to_dict())
    return blocks[:BLOCK_LIMIT]


def echo_blocks(message: str, typed: str) -> list[dict[str, Any]]:
    """A message followed by the user's own text, escaped, so nothing they typed is lost."""
    return text_blocks(message, *[f"```{escape(typed[i : i + 2900])}```" for i in range(0, len(typed), 2900)])


def divider() -> dict[str, Any]:
    return DividerBlock().to_dict()
