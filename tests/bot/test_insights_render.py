"""The stats page, its chart and the references list as pure builders: escaping and Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.insights import (
    BARS,
    NO_BAR,
    REFERENCE_LIMIT,
    bar,
    chart_text,
    duration_text,
    home_insight_blocks,
    references_blocks,
    stats_blocks,
)
from domain.insights import AgedComplaint, Insights, QuietChannel, Ranked, WeeklyCounts, week_starts
from domain.story import Story

NOW = datetime(2030, 6, 12, 15, 0, tzinfo=UTC)
HOSTILE = "<!channel> <!here> <@U1> <!subteam^S1> <http://evil.example|click> & *bold*"


def assert_valid(blocks: list[dict[str, Any]], limit: int = 50) -> None:
    assert 0 < len(blocks) <= limit
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
        for part in [block.get("text") or {}, *block.get("elements", [])]:
            assert len(part.get("text", "")) <= 3000


def assert_pings_nobody(blocks: list[dict[str, Any]], allowed: tuple[str, ...] = ()) -> None:
    shown = json.dumps(blocks, ensure_ascii=False)
    for live in ("<!channel>", "<!here>", "<@U1>", "<!subteam^S1>", "<http://evil.example"):
        assert live not in shown or live in allowed, live


def heavy_insights() -> Insights:
    """Every list as long and every name as hostile as storage could ever return."""
    weeks = week_starts(NOW)
    return Insights(
        week_starts=weeks,
        per_week=tuple(
            WeeklyCounts(kind, tuple(range(n, n + 12)))
            for n, kind in enumerate(
                ["praise", "complaint", "idea", "referral", *[f"<kind{i}>" for i in range(20)]]
            )
        ),
        anonymous_stories=7,
        featured_this_week=3,
        featured=40,
        reactions_this_week=9,
        reactions=120,
        credited=tuple(Ranked(f"U0{n:08d}", 100 - n) for n in range(50)) + (Ranked("<!channel>", 1),),
        customers=tuple(Ranked(HOSTILE * 20, 100 - n) for n in range(50)),
        open_complaints=500,
        oldest_complaints=tuple(
            AgedComplaint(n, HOSTILE * 20, "anonymous" if n % 2 else "internal", NOW - timedelta(days=n))
            for n in range(50)
        ),
        median_resolution=timedelta(days=3, hours=4),
        quiet_channels=300,
        quiet=tuple(QuietChannel(f"C{n:08d}", NOW if n % 2 else None) for n in range(50))
        + (QuietChannel("<!channel>", None),),
    )


def test_bars_scale_to_the_peak_and_show_empty_weeks() -> None:
    assert bar(0, 10) == NO_BAR and bar(5, 0) == NO_BAR
    assert bar(10, 10) == BARS[-1] and bar(1, 10) == BARS[0] and bar(1, 1000) == BARS[0]
    levels = [bar(n, 8) for n in range(1, 9)]
    assert levels == list(BARS)


def test_chart_has_a_row_per_kind_with_its_total_on_one_scale() -> None:
    rows = (WeeklyCounts("praise", (0,) * 11 + (8,)), WeeklyCounts("complaint", (1,) + (0,) * 11))
    text = chart_text(rows, 12, "en")
    lines = text.strip("`").split("\n")
    assert [line.split()[0] for line in lines] == ["Praise", "Complaint", "Idea", "Referral"]
    assert lines[0].endswith("█  8") and NO_BAR * 11 in lines[0]
    assert lines[1].endswith("·  1") and lines[1].split()[1] == "▁" + NO_BAR * 11
    assert lines[2].endswith(NO_BAR * 12 + "  0")
    # Columns line up: every row is as long as the first.
    assert len({len(line) for line in lines}) == 1


def test_durations_read_like_a_person_would_say_them() -> None:
    assert duration_text(timedelta(minutes=10), "en") == "less than an hour"
    assert duration_text(timedelta(hours=1, minutes=5), "en") == "1 hour"
    assert duration_text(timedelta(hours=30), "en") == "30 hours"
    assert duration_text(timedelta(days=12, hours=5), "en") == "12 days"


def test_stats_page_stays_within_limits_and_pings_nobody_whatever_the_data() -> None:
    blocks = stats_blocks(heavy_insights(), "en", NOW)
    assert_valid(blocks)
    assert_pings_nobody(blocks)
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "&lt;!channel&gt;" in shown
    # Every text fits as built: never cut by the last-resort truncation (which could split '&lt;').
    assert all(len((b.get("text") or {}).get("text", "")) < 2000 for b in blocks)
    # Lists are capped; the rest is counted.
    assert shown.count("<@U0") == 5 and "<#C" in shown and "…and 295 more." in shown
    assert "Open complaints: 500*" in shown and "…and 495 more." in shown
    assert "A customer: open for" in shown
    assert "Plus 7 from customers who asked to stay anonymous." in shown
    assert "Median time from complaint to resolved (last 12 weeks): *3 days*" in shown
    home = [b.to_dict() for b in home_insight_blocks(heavy_insights(), "en", NOW)]
    assert_valid(home, 100)
    assert "Open complaints" not in json.dumps(home)  # App Home lists them in their own section


def test_stats_page_for_a_new_workspace_says_what_is_missing() -> None:
    blocks = stats_blocks(Insights(week_starts=week_starts(NOW)), "en", NOW)
    assert_valid(blocks)
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "stories logged *0*" in shown
    assert "Nobody was credited lately" in shown and "No customer was named lately" in shown
    assert "Open complaints: 0" in shown and "No complaint was resolved in the last 12 weeks." in shown
    assert "Every channel with a schedule had a fresh story" in shown


def story(n: int, **fields: Any) -> Story:
    base: dict[str, Any] = {
        "id": n,
        "customer": f"Customer {n}",
        "quote": "They recommend us",
        "consent": "public",
        "author": "U0AUTHOR",
        "created_at": NOW,
    }
    return Story(**{**base, **fields})


def test_references_escape_user_text_and_mention_only_the_stored_author() -> None:
    hostile = story(
        1, customer=HOSTILE, quote=HOSTILE * 100, contact=HOSTILE, tags=("<!here>",), kind="referral"
    )
    blocks = references_blocks([hostile, story(2, author="not an id")], "en", query="<!channel> words")
    assert_valid(blocks)
    assert_pings_nobody(blocks)
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "<@U0AUTHOR>" in shown and "ask them for an introduction" in shown
    assert "Referral" in shown and "&lt;!channel&gt;" in shown
    assert "not an id" not in shown


def test_references_list_never_shows_a_story_that_is_not_public() -> None:
    blocks = references_blocks([story(1, consent="anonymous"), story(2, consent="internal"), story(3)], "en")
    shown = json.dumps(blocks)
    assert "Customer 3" in shown and "Customer 1" not in shown and "Customer 2" not in shown


@given(st.lists(st.text(min_size=1, max_size=3000), min_size=0, max_size=30), st.booleans())
def test_references_stay_within_limits_for_any_text(quotes: list[str], more: bool) -> None:
    stories = [story(n, customer=q[:200], quote=q, contact=q[:200]) for n, q in enumerate(quotes)]
    blocks = references_blocks(stories, "en", query="x", more=more)
    assert_valid(blocks)
    assert len([b for b in blocks if b["type"] == "section"]) <= REFERENCE_LIMIT + 1
