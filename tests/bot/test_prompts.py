"""Stand-up prompts: rotation, determinism, escaping of custom prompts, and the voice's anonymity."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.blocks import Block

from bot.prompts import BUILTIN_PROMPTS, next_prompt, prompt_blocks, prompt_fallback_text
from domain.story import Story

PRODUCT_EXAMPLES = (
    "Which customer will notice today's work, and how?",
    "What changed for a customer because of something you did yesterday?",
    "What support do you need from me to make a customer's day better?",
    "Which customer problem would you fix first if you had a free hour?",
)


def slot(n: int) -> str:
    return f"C123|2026-11-{1 + n % 28:02d}T09:{n % 60:02d}|{n}"


def test_catalog_has_the_product_examples_and_enough_distinct_prompts() -> None:
    assert set(PRODUCT_EXAMPLES) <= set(BUILTIN_PROMPTS)
    assert len(set(BUILTIN_PROMPTS)) >= 12
    assert all(p.endswith("?") for p in BUILTIN_PROMPTS)


@pytest.mark.parametrize(
    "catalog",
    [BUILTIN_PROMPTS, ("One?", "Two?"), ("Same?", "Same?", " Same? ", "Other?"), ("A?", "B?", "C?")],
)
def test_never_the_same_twice_in_a_row(catalog: tuple[str, ...]) -> None:
    last: str | None = None
    seen: set[str] = set()
    for n in range(500):
        prompt = next_prompt(catalog, last, slot(n))
        assert prompt != last
        seen.add(prompt)
        last = prompt
    assert seen == {p.strip() for p in catalog}  # the rotation reaches every prompt


def test_deterministic_per_slot_key() -> None:
    first = [next_prompt(BUILTIN_PROMPTS, None, slot(n)) for n in range(50)]
    again = [next_prompt(BUILTIN_PROMPTS, None, slot(n)) for n in range(50)]
    assert first == again
    assert len(set(first)) > 1  # the key actually moves the choice


def test_single_prompt_catalog_repeats_and_empty_catalog_uses_builtins() -> None:
    assert next_prompt(["Only one?"], "Only one?", "C1|x") == "Only one?"
    assert next_prompt([], None, "C1|x") in BUILTIN_PROMPTS
    assert next_prompt(["", "  "], None, "C1|x") in BUILTIN_PROMPTS


def _texts(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_custom_prompt_is_escaped() -> None:
    custom = "<!channel> what did <@U999> ship? <http://evil.example|click> & more"
    blocks = prompt_blocks(custom, None, "en")
    assert all(Block.parse(b) is not None for b in blocks)
    text = blocks[0]["text"]["text"]
    assert text == (
        "&lt;!channel&gt; what did &lt;@U999&gt; ship? &lt;http://evil.example|click&gt; &amp; more"
    )
    fallback = prompt_fallback_text(custom)
    assert "<" not in fallback and "&lt;!channel&gt;" in fallback


def test_long_prompt_is_shortened_within_slack_limits() -> None:
    blocks = prompt_blocks("&" * 5000, None, "en")
    assert len(blocks[0]["text"]["text"]) <= 3000
    assert blocks[0]["text"]["text"].endswith("…")
    assert len(prompt_fallback_text("x" * 5000)) <= 300


def test_blank_prompt_is_refused() -> None:
    with pytest.raises(ValueError):
        prompt_blocks("   ", None, "en")


def _voice(consent: str) -> Story:
    return Story(
        id=1,
        customer="ACME <!here>",
        quote="It saved us <@U1> a week\nof work",
        contact="Jane Doe, CFO",
        consent=consent,
        author="UAUTHOR",
    )


def test_voice_shows_quote_and_customer() -> None:
    blocks = prompt_blocks("How?", _voice("internal"), "en")
    assert all(Block.parse(b) is not None for b in blocks)
    text = _texts(blocks)
    assert "Voice of the customer" in text
    assert "&gt;It saved us &lt;@U1&gt; a week" not in text  # the quote marker is a real '>'
    assert ">It saved us &lt;@U1&gt; a week\\n>of work" in text
    assert "Jane Doe, CFO" in text and "ACME &lt;!here&gt;" in text
    assert "<!here>" not in text and "<@U1>" not in text


def test_anonymous_voice_hides_customer_and_contact() -> None:
    blocks = prompt_blocks("How?", _voice("anonymous"), "en")
    text = _texts(blocks)
    assert "It saved us" in text
    assert "ACME" not in text and "Jane" not in text and "CFO" not in text


def test_long_voice_quote_is_shortened() -> None:
    voice = Story(id=2, customer="Acme", quote="<" * 3000, author="UAUTHOR")
    blocks = prompt_blocks("How?", voice, "en")
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if "text" in b)
    assert "…" in blocks[1]["text"]["text"]
