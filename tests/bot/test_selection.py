"""Choosing the customer of the week: each preference, each fallback, determinism and Shuffle."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block

from bot.messages import t
from bot.selection import ChannelHistory, choose_story, invitation_blocks, rank_candidates
from domain.story import Story

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EMPTY = ChannelHistory(featured_story_ids=frozenset(), recent_customers=())


def story(id: int, customer: str = "", *, days_old: float = 1, **fields: Any) -> Story:
    values: dict[str, Any] = {
        "customer": customer or f"Customer {id}",
        "quote": f"Quote {id}",
        "kind": "praise",
        "author": "UAUTHOR",
        "created_at": NOW - timedelta(days=days_old),
    }
    values.update(fields)
    return Story(id=id, workspace_id=1, **values)


def ids(stories: list[Story]) -> list[int]:
    return [s.id for s in stories]


def history(
    featured: Iterable[int] = (), recent: tuple[str, ...] = (), tags: tuple[str, ...] = ()
) -> ChannelHistory:
    return ChannelHistory(featured_story_ids=frozenset(featured), recent_customers=recent, tags=tags)


# Fallbacks


def test_no_story_at_all_gives_none() -> None:
    assert choose_story([], EMPTY, NOW) is None
    assert rank_candidates([], EMPTY, NOW) == []


def test_only_complaints_gives_none() -> None:
    stories = [story(1, kind="complaint"), story(2, kind="complaint", impact="x", contact="y")]
    assert choose_story(stories, EMPTY, NOW) is None


def test_ideas_and_complaints_are_never_candidates() -> None:
    stories = [
        story(1, kind="idea", impact="big", contact="CFO", credited=("U1",)),
        story(2, kind="complaint", days_old=0),
        story(3, kind="praise", days_old=200),
        story(4, kind="referral", days_old=100),
    ]
    assert ids(rank_candidates(stories, EMPTY, NOW)) == [4, 3]
    assert choose_story(stories, EMPTY, NOW).id == 4  # type: ignore[union-attr]


def test_referral_is_a_candidate_like_praise() -> None:
    assert choose_story([story(1, kind="referral")], EMPTY, NOW).id == 1  # type: ignore[union-attr]


def test_no_fresh_story_takes_best_older_never_featured() -> None:
    stories = [
        story(1, days_old=40, impact="featured before", contact="CFO"),
        story(2, days_old=90),
        story(3, days_old=60, impact="saved a week", contact="Head of Ops"),
    ]
    chosen = choose_story(stories, history(featured={1}), NOW)
    assert chosen is not None and chosen.id == 3


def test_every_story_featured_still_returns_the_best() -> None:
    stories = [story(1, days_old=5), story(2, days_old=2, impact="x"), story(3, days_old=50)]
    chosen = choose_story(stories, history(featured={1, 2, 3}), NOW)
    assert chosen is not None and chosen.id == 2
    assert ids(rank_candidates(stories, history(featured={1, 2, 3}), NOW)) == [2, 1, 3]


# Preferences


def test_never_featured_beats_fresh_rich_and_appreciated() -> None:
    featured = story(1, days_old=1, impact="x", contact="y", credited=("U1",))
    plain_old = story(2, days_old=300)
    chosen = choose_story([featured, plain_old], history(featured={1}), NOW, appreciation={1: 50})
    assert chosen is not None and chosen.id == 2


def test_customer_in_last_four_posts_is_avoided_while_another_exists() -> None:
    stories = [
        story(1, "ACME", days_old=1, impact="x", contact="y", credited=("U1",)),
        story(2, "Globex", days_old=1),
        story(3, "Initech", days_old=1),
        story(4, "Umbrella", days_old=1),
        story(5, "Hooli", days_old=200),
    ]
    recent = (" acme ", "GLOBEX", "initech", "Umbrella")  # compared trimmed and case-insensitively
    chosen = choose_story(stories, history(recent=recent), NOW)
    assert chosen is not None and chosen.id == 5


def test_recent_customer_rule_beats_never_featured() -> None:
    stories = [story(1, "ACME"), story(2, "Globex")]
    chosen = choose_story(stories, history(featured={2}, recent=("Acme",)), NOW)
    assert chosen is not None and chosen.id == 2


def test_only_the_last_four_posts_count() -> None:
    stories = [story(1, "ACME"), story(2, "Globex", impact="richer")]
    recent = ("Globex", "Initech", "Umbrella", "Hooli", "ACME")  # ACME is fifth: allowed again
    chosen = choose_story(stories, history(recent=recent), NOW)
    assert chosen is not None and chosen.id == 1


def test_recent_customer_chosen_when_it_is_the_only_customer() -> None:
    stories = [story(1, "ACME", days_old=3), story(2, "Acme", days_old=10)]
    chosen = choose_story(stories, history(recent=("acme",)), NOW)
    assert chosen is not None and chosen.id == 1


def test_tag_match_preferred() -> None:
    stories = [
        story(1, days_old=1, impact="x", contact="y", tags=("sales",)),
        story(2, days_old=20, tags=("Billing", "export")),
    ]
    chosen = choose_story(stories, history(tags=("#billing",)), NOW)
    assert chosen is not None and chosen.id == 2
    # Without channel tags, the richer story wins.
    assert choose_story(stories, EMPTY, NOW).id == 1  # type: ignore[union-attr]


def test_tag_match_beats_freshness_but_not_never_featured() -> None:
    tagged_old = story(1, days_old=90, tags=("billing",))
    fresh = story(2, days_old=1)
    assert choose_story([tagged_old, fresh], history(tags=("billing",)), NOW).id == 1  # type: ignore[union-attr]
    chosen = choose_story([tagged_old, fresh], history(featured={1}, tags=("billing",)), NOW)
    assert chosen is not None and chosen.id == 2


def test_fresh_preferred_over_rich_older() -> None:
    stories = [
        story(1, days_old=31, impact="x", contact="y", credited=("U1",)),
        story(2, days_old=29),
    ]
    chosen = choose_story(stories, EMPTY, NOW)
    assert chosen is not None and chosen.id == 2


def test_richer_preferred_among_fresh() -> None:
    stories = [
        story(1, days_old=1),
        story(2, days_old=5, impact="closed the books early"),
        story(3, days_old=9, impact="saved a week", contact="CFO", credited=("U1",)),
    ]
    assert ids(rank_candidates(stories, EMPTY, NOW)) == [3, 2, 1]


def test_more_appreciation_preferred_when_equally_rich() -> None:
    stories = [story(1, days_old=1, impact="x"), story(2, days_old=8, impact="y")]
    chosen = choose_story(stories, EMPTY, NOW, appreciation={2: 7, 1: 2})
    assert chosen is not None and chosen.id == 2
    # A story missing from the mapping counts as no reactions.
    chosen = choose_story(stories, EMPTY, NOW, appreciation={1: 1})
    assert chosen is not None and chosen.id == 1


def test_richness_beats_appreciation() -> None:
    stories = [story(1, impact="x", contact="y"), story(2)]
    chosen = choose_story(stories, EMPTY, NOW, appreciation={2: 100})
    assert chosen is not None and chosen.id == 1


def test_without_mapping_the_story_reactions_count() -> None:
    stories = [story(1, days_old=1, reactions=1), story(2, days_old=3, reactions=4)]
    assert choose_story(stories, EMPTY, NOW).id == 2  # type: ignore[union-attr]


def test_ties_break_newer_then_higher_id() -> None:
    same_time = NOW - timedelta(days=2)
    stories = [
        story(1, created_at=same_time),
        story(7, created_at=same_time),
        story(3, days_old=1),
        story(9, created_at=None),
    ]
    assert ids(rank_candidates(stories, EMPTY, NOW)) == [3, 7, 1, 9]


# Determinism and Shuffle


def _mixed_stories() -> list[Story]:
    return [
        story(i, f"Customer {i % 5}", days_old=(i * 7) % 70, impact="x" * (i % 2), tags=(f"t{i % 3}",))
        for i in range(1, 21)
    ]


def test_same_input_same_output_in_any_order() -> None:
    stories = _mixed_stories()
    hist = history(featured={2, 5}, recent=("Customer 1",), tags=("t1",))
    expected = ids(rank_candidates(stories, hist, NOW, appreciation={4: 3}))
    assert expected == ids(rank_candidates(stories, hist, NOW, appreciation={4: 3}))
    rng = random.Random(1)
    for _ in range(20):
        shuffled = stories[:]
        rng.shuffle(shuffled)
        assert ids(rank_candidates(shuffled, hist, NOW, appreciation={4: 3})) == expected
        assert choose_story(shuffled, hist, NOW, appreciation={4: 3}).id == expected[0]  # type: ignore[union-attr]


def test_skip_cycles_through_the_ranking() -> None:
    stories = _mixed_stories()
    ranked = ids(rank_candidates(stories, EMPTY, NOW))
    picked = [choose_story(stories, EMPTY, NOW, skip=n).id for n in range(len(ranked) * 2)]  # type: ignore[union-attr]
    assert picked == ranked * 2
    assert len(set(ranked)) == len(stories)


# Query


def test_query_matches_customer_substring_or_exact_tag() -> None:
    stories = [
        story(1, "Acme Corp", tags=("billing",)),
        story(2, "Globex", tags=("Onboarding",)),
        story(3, "Big ACME Ltd"),
        story(4, "Initech", tags=("onboarding-v2",)),
    ]
    assert sorted(ids(rank_candidates(stories, EMPTY, NOW, query="acme"))) == [1, 3]
    assert ids(rank_candidates(stories, EMPTY, NOW, query="#onboarding")) == [2]
    assert ids(rank_candidates(stories, EMPTY, NOW, query=" ONBOARDING ")) == [2]
    assert ids(rank_candidates(stories, EMPTY, NOW, query="billing")) == [1]


def test_query_matching_nothing_gives_empty_ranking() -> None:
    stories = [story(1, "Acme"), story(2, "Globex", kind="complaint")]
    assert rank_candidates(stories, EMPTY, NOW, query="globex") == []  # complaints never match
    assert rank_candidates(stories, EMPTY, NOW, query="nobody") == []
    assert choose_story(stories, EMPTY, NOW, query="nobody") is None


def test_query_still_respects_the_ranking() -> None:
    stories = [story(1, "Acme", days_old=50), story(2, "Acme West", days_old=2), story(3, "Globex")]
    assert ids(rank_candidates(stories, history(featured={2}), NOW, query="acme")) == [1, 2]


# Invitation


def test_invitation_blocks_parse_and_invite_to_share() -> None:
    blocks = invitation_blocks("en")
    assert blocks and all(Block.parse(b) is not None for b in blocks)
    assert blocks[0]["text"]["text"] == t("story.invitation", "en")
    assert "/impact" in blocks[0]["text"]["text"]
