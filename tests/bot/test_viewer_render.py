"""Renderers take who is looking: names under anonymous consent and Edit/Delete, without a network."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import BLOCK_LIMIT, list_blocks, shown_to, story_summary
from domain.story import Story
from domain.viewer import STRANGER, Viewer

SECRET = Story(
    id=7, customer="Initech", contact="Bill L.", quote="It works", author="U0AUTHOR", consent="anonymous"
)
OPEN = Story(id=8, customer="Globex", contact="Hank", quote="Fast", author="U0AUTHOR", consent="internal")


def test_who_sees_an_anonymous_customer_and_who_may_change_a_story() -> None:
    author, manager, colleague = Viewer("U0AUTHOR"), Viewer("U0BOSS", is_manager=True), Viewer("U0OTHER")
    assert author.sees_names(SECRET) and manager.sees_names(SECRET)
    assert not colleague.sees_names(SECRET) and not STRANGER.sees_names(SECRET)
    assert colleague.sees_names(OPEN) and STRANGER.sees_names(OPEN)
    assert author.may_change(SECRET) and manager.may_change(SECRET) and not colleague.may_change(OPEN)
    # A request without a user never counts as the author of a story without one.
    assert not Viewer(None).may_change(Story(author=""))


def test_a_stranger_reads_a_customer_and_no_contact() -> None:
    hidden = shown_to(SECRET, STRANGER, "en")
    assert (hidden.customer, hidden.contact, hidden.quote, hidden.id) == ("A customer", "", "It works", 7)
    assert shown_to(SECRET, Viewer("U0AUTHOR"), "en") is SECRET
    assert "Initech" not in story_summary(SECRET, STRANGER, "en")
    assert "*A customer*" in story_summary(SECRET, STRANGER, "en")
    assert "*Initech*" in story_summary(SECRET, Viewer("U0X", is_manager=True), "en")


def test_list_buttons_follow_the_viewer() -> None:
    def ids(blocks: list[dict[str, object]]) -> list[str]:
        return [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]  # type: ignore[index, attr-defined]

    other = Story(id=9, customer="Umbrella", quote="Hi", author="U0OTHER")
    assert ids(list_blocks([SECRET, other], "t", "en", Viewer("U0OTHER"))) == ["9", "9"]
    assert ids(list_blocks([SECRET, other], "t", "en", Viewer("U0BOSS", True))) == ["7", "7", "9", "9"]
    assert ids(list_blocks([SECRET, other], "t", "en", STRANGER)) == []
    assert "Initech" not in json.dumps(list_blocks([SECRET], "t", "en", STRANGER))


@settings(max_examples=50, deadline=None)
@given(count=st.integers(0, 80), manager=st.booleans())
def test_lists_stay_within_slacks_blocks_whoever_looks(count: int, manager: bool) -> None:
    stories = [Story(id=n, customer=f"C{n}", quote="q", author="U0AUTHOR") for n in range(count)]
    blocks = list_blocks(stories, "t", "en", Viewer("U0BOSS", manager))
    assert len(blocks) <= BLOCK_LIMIT
    # Without buttons twice as many stories fit.
    assert len(blocks) == 1 + min(count, 24 if manager else 49) * (2 if manager else 1)
