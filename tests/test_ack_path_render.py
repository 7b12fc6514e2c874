"""The quick log's confirmation, built as plain dicts on the hot path, is exactly what the
slack_sdk Block Kit models build, and each of its blocks parses back into a model unchanged."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
)

from bot.messages import t
from bot.render import (
    CONFIRM_TEXT_LIMIT,
    _with_credits,
    button_text,
    confirmation_blocks,
    context,
    one_line,
    section,
    shorten,
    source_line,
    story_body_blocks,
    story_header_text,
)
from domain.story import Story
from tests.bot.hostile import stories

LANGS = st.sampled_from(("en", "de", "nl"))


def with_models(story: Story, lang: str, message_id: str = "saved") -> list[dict[str, Any]]:
    """The confirmation as bot/render built it with slack_sdk.models before it became dicts."""
    value = str(story.id)
    template = t("confirm.delete_text", lang, customer="")
    customer = shorten(one_line(story.customer), max(1, CONFIRM_TEXT_LIMIT - len(template)))
    actions = ActionsBlock(
        block_id=f"story_actions_{story.id}",
        elements=[
            ButtonElement(text=button_text(t("button.edit", lang)), action_id="story_edit", value=value),
            ButtonElement(
                text=button_text(t("button.delete", lang)),
                action_id="story_delete",
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
    blocks: list[Block] = [section(t(message_id, lang))]
    blocks.append(HeaderBlock(text=PlainTextObject(text=story_header_text(story, lang))))
    blocks = _with_credits(blocks + story_body_blocks(story, lang), story, lang)
    source = source_line(story, lang)
    if source:
        blocks.append(context(source))
    blocks.append(actions)
    return [b.to_dict() for b in blocks]


@settings(max_examples=300, deadline=None)
@given(story=stories(), message_id=st.sampled_from(("saved", "updated")), lang=LANGS)
def test_the_plain_dict_confirmation_is_what_the_models_build(
    story: Story, message_id: str, lang: str
) -> None:
    blocks = confirmation_blocks(story, lang, message_id)
    assert blocks == with_models(story, lang, message_id)
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None and parsed.to_dict() == block
