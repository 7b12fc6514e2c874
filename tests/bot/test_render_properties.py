"""Property tests: whatever users type, everything the bot renders pings nobody, links nowhere
the user chose, is sent verbatim where Slack would auto-parse it, and fits Slack's limits.

Covers every renderer that takes user text: the story post and its notification text, the
confirmation, lists and search, the preview, App Home, schedule lines and the manager modals,
stand-up prompts with a voice and custom prompts, the invitation, the story modal prefilled with a
draft, echo blocks and notification text.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.home_view import HOME_BLOCK_LIMIT, ManagerHome, home_view
from bot.manager_views import (
    preview_blocks,
    read_settings_form,
    schedule_lines,
    schedule_modal,
    settings_modal,
)
from bot.messages import t
from bot.modal import story_modal
from bot.prompts import prompt_blocks, prompt_fallback_text
from bot.render import (
    BLOCK_LIMIT,
    confirmation_blocks,
    echo_blocks,
    escape,
    list_blocks,
    notification_text,
    one_line,
    query_text,
    story_fallback_text,
    story_post_blocks,
    text_blocks,
)
from bot.selection import invitation_blocks
from domain.home import AuthorImpact
from domain.schedule import ChannelSchedule, ScheduleSpec
from domain.story import LIMITS, MAX_CREDITED, Draft, Story, clean_text, is_user_id, is_web_url
from domain.viewer import Viewer
from tests.bot.hostile import (
    AUTHOR,
    BROADCAST_WORD,
    CHANNELS,
    CONTROL,
    CREDITED,
    GOOD_SOURCES,
    allowed_markup,
    assert_blocks,
    assert_inert,
    assert_view,
    mixed,
    present,
    shown_once,
    stories,
    text_objects,
    typed,
)

LANGS = st.sampled_from(("en", "de", "nl"))
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def allowed_for(*items: Story, channels: tuple[str, ...] = ()) -> re.Pattern[str]:
    """The bot's own markup for these stories: their valid IDs, channels and valid sources."""
    users = {u for s in items for u in (s.author, *s.credited) if is_user_id(u)}
    urls = {s.source for s in items if is_web_url(s.source)}
    return allowed_markup(users, channels, urls)


def unchanged(story: Story) -> tuple[Story, dict[str, Any]]:
    return copy.deepcopy(story), copy.deepcopy(story.extra)


def mrkdwn_text(blocks: Any) -> str:
    return "\n".join(o["text"] for o in text_objects(blocks) if o["type"] == "mrkdwn")


# --- Story post, confirmation, lists ---------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(story=stories(), lang=LANGS)
def test_story_post_is_inert_and_within_limits(story: Story, lang: str) -> None:
    before = unchanged(story)
    blocks = story_post_blocks(story, lang)
    assert_blocks(blocks, allowed_for(story))
    fallback = story_fallback_text(story, lang)
    assert_notification(fallback, 300)
    text = mrkdwn_text(blocks)
    # Mentions come only from stored, valid user IDs: the author once, each credit once.
    assert text.count(f"<@{AUTHOR}>") == int(story.author == AUTHOR) + int(AUTHOR in story.credited)
    for user in CREDITED:
        assert text.count(f"<@{user}>") == int(user in story.credited) + int(story.author == user)
    assert len(re.findall(r"<@", text)) <= 1 + MAX_CREDITED
    # A post never links the source, and anonymous consent hides customer and contact.
    assert "<http" not in text
    if story.consent == "anonymous":
        # No "— contact, customer" line and no name in the header.
        assert blocks[0]["text"]["text"] == t("story.header_anonymous", lang)
        assert not any(b["type"] == "context" and "—" in mrkdwn_text(b) for b in blocks)
    assert (story, story.extra) == before


@settings(max_examples=200, deadline=None)
@given(story=stories(), message_id=st.sampled_from(("saved", "updated")), lang=LANGS)
def test_confirmation_is_inert_and_within_limits(story: Story, message_id: str, lang: str) -> None:
    before = unchanged(story)
    blocks = confirmation_blocks(story, lang, message_id)
    assert_blocks(blocks, allowed_for(story))
    links = re.findall(r"<(https?://[^|>]+)\|", mrkdwn_text(blocks))
    # The only link is the stored source, and only when it is a valid http(s) URL.
    assert links == ([story.source.replace("&", "&amp;")] if is_web_url(story.source) else [])
    confirm = [
        e["confirm"] for b in blocks if b["type"] == "actions" for e in b["elements"] if "confirm" in e
    ]
    assert confirm and all(len(c["text"]["text"]) <= 300 for c in confirm)
    assert (story, story.extra) == before


@settings(max_examples=60, deadline=None)
@given(found=st.lists(stories(size=30), max_size=30), query=typed(3000), lang=LANGS)
def test_list_and_search_echo_are_inert(found: list[Story], query: str, lang: str) -> None:
    for title in (t("list.title", lang), query_text("search.title", lang, query)):
        blocks = list_blocks(found, title, lang, Viewer("U1", is_manager=True))
        assert_blocks(blocks, allowed_for(*found))
    empty = query_text("search.empty", lang, query)
    assert_inert(empty, allowed_markup())
    assert not BROADCAST_WORD.search(empty)
    assert_blocks(text_blocks(empty), allowed_markup())


# --- Preview, invitation, prompts ------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    story=st.one_of(st.none(), stories()),
    channel=st.sampled_from(CHANNELS),
    query=typed(5000),
    skip=st.integers(0, 10**6),
    lang=LANGS,
)
def test_preview_is_inert_and_within_limits(
    story: Story | None, channel: str, query: str, skip: int, lang: str
) -> None:
    post = story_post_blocks(story, lang) if story else invitation_blocks(lang)
    heading = None if story else t("preview.invitation", lang)
    state: dict[str, Any] = {"c": channel, "q": clean_text(query), "s": skip, "n": NOW.isoformat()}
    blocks = preview_blocks(post, channel, lang, state, heading)
    allowed = allowed_for(story, channels=(channel,)) if story else allowed_markup(channels=(channel,))
    assert_blocks(blocks, allowed)
    values = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    for value in values:
        kept = json.loads(value)
        assert (kept["c"], kept["s"], kept["n"]) == (channel, skip, NOW.isoformat())
        assert state["q"].startswith(kept["q"])


@given(lang=LANGS)
def test_invitation_is_verbatim_and_valid(lang: str) -> None:
    assert_blocks(invitation_blocks(lang), allowed_markup())


@settings(max_examples=200, deadline=None)
@given(prompt=typed(5000).filter(lambda p: present(clean_text(p))), voice=st.one_of(st.none(), stories()))
def test_prompt_is_inert_and_within_limits(prompt: str, voice: Story | None) -> None:
    before = unchanged(voice) if voice is not None else None
    blocks = prompt_blocks(prompt, voice, "en")
    assert_blocks(blocks, allowed_markup())
    assert_notification(prompt_fallback_text(prompt), 300)
    if voice is not None:
        assert (voice, voice.extra) == before
        if voice.consent == "anonymous":
            assert len(blocks) == 2  # the quote only: no customer or contact line


@settings(max_examples=50, deadline=None)
@given(prompts=st.lists(typed(400), max_size=60), lang=LANGS)
def test_custom_prompts_in_settings_round_trip_cleanly(prompts: list[str], lang: str) -> None:
    view = settings_modal(lang, [clean_text(p) for p in prompts], None)
    assert_view(view, allowed_markup())
    typed_back = {"prompts": {"value": {"type": "plain_text_input", "value": "\n".join(prompts)}}}
    kept, _, _ = read_settings_form({"state": {"values": typed_back}})
    assert all(p and not CONTROL.search(p) and "\n" not in p for p in kept)
    assert len(kept) == len(set(kept))


# --- App Home and schedules ------------------------------------------------------------------

times = st.one_of(st.sampled_from(("09:00", "23:59", "00:00")), typed(10))
zones = st.one_of(st.sampled_from(("UTC", "Europe/Berlin", "America/Sao_Paulo")), typed(64))
specs = st.builds(
    ScheduleSpec,
    kind=st.sampled_from(("story", "prompt")),
    weekdays=st.lists(st.sampled_from(("mon", "tue", "sun")), min_size=1, max_size=3, unique=True).map(tuple),
    time=times,
    timezone=zones,
)


@st.composite
def schedules(draw: st.DrawFn) -> ChannelSchedule:
    return ChannelSchedule(
        id=draw(st.integers(1, 10**6)),
        workspace_id=1,
        team_id="T1",
        channel_id=draw(st.sampled_from(CHANNELS)),
        spec=draw(specs),
        created_at=NOW,
        tags=draw(st.lists(typed(30), max_size=3).map(tuple)),
        language=None,
        skip_dates=draw(st.lists(st.sampled_from(("2026-03-02", "2026-12-24")), max_size=2).map(tuple)),
    )


@settings(max_examples=60, deadline=None)
@given(
    recent=st.lists(stories(size=30), max_size=8),
    complaints=st.lists(stories(size=30), max_size=8),
    channel_schedules=st.lists(schedules(), max_size=12),
    counts=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6)),
    manager=st.booleans(),
    lang=LANGS,
)
def test_home_view_is_inert_and_within_limits(
    recent: list[Story],
    complaints: list[Story],
    channel_schedules: list[ChannelSchedule],
    counts: tuple[int, int, int],
    manager: bool,
    lang: str,
) -> None:
    extra = ManagerHome(channel_schedules, len(complaints) + counts[0] % 3, complaints) if manager else None
    view = home_view(lang, AuthorImpact(*counts), recent, NOW, extra, viewer=Viewer("U1", manager))
    allowed = allowed_for(*recent, *complaints, channels=CHANNELS)
    assert_view(view, allowed, HOME_BLOCK_LIMIT)


@settings(max_examples=100, deadline=None)
@given(channel_specs=st.lists(specs, max_size=4), lang=LANGS)
def test_schedule_lines_are_inert(channel_specs: list[ScheduleSpec], lang: str) -> None:
    try:
        lines = schedule_lines(channel_specs, [], NOW, lang)
    except (ValueError, LookupError, OSError):
        return  # App Home falls back to its own escaped lines (covered above)
    assert_inert(lines, allowed_markup())


@settings(max_examples=50, deadline=None)
@given(
    channel=st.sampled_from(CHANNELS),
    skip=st.lists(typed(12), max_size=5),
    tag_list=st.lists(typed(40), max_size=12),
    lang=LANGS,
)
def test_schedule_modal_is_valid_with_hostile_stored_values(
    channel: str, skip: list[str], tag_list: list[str], lang: str
) -> None:
    view = schedule_modal(
        channel, lang, "UTC", {}, skip, tuple(tag_list), None, response_url="https://hooks.slack.com/x"
    )
    assert_view(view, allowed_markup())


# --- The story modal prefilled with a draft --------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(story=stories(), story_id=st.one_of(st.none(), st.integers(1, 10**9)), lang=LANGS)
def test_modal_prefilled_with_a_draft(story: Story, story_id: int | None, lang: str) -> None:
    view = story_modal(
        story.draft, lang, story_id=story_id, channel="C1", response_url="https://hooks.slack.com/commands/x"
    )
    assert_view(view, allowed_markup())
    by_id = {b["block_id"]: b["element"] for b in view["blocks"]}
    # Inputs show their value literally: the typed text, cleaned, never escaped.
    for name in ("customer", "contact", "impact", "quote"):
        expected = clean_text(getattr(story, name))
        if name != "quote":
            expected = expected[: LIMITS[name]]
        assert by_id[name].get("initial_value", "") == expected
    users = by_id["credited"].get("initial_users", [])
    assert all(is_user_id(u) for u in users) and len(users) == len(set(users)) <= MAX_CREDITED
    assert by_id["credited"]["max_selected_items"] == MAX_CREDITED
    assert by_id["source"].get("initial_value") == (story.source if is_web_url(story.source) else None)


# --- Echo blocks and notification text -------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    message=st.sampled_from(("too_long", "db_unavailable")), text=st.one_of(typed(20000), mixed), lang=LANGS
)
def test_echo_blocks_keep_what_was_typed(message: str, text: str, lang: str) -> None:
    blocks = echo_blocks(t(message, lang, length=len(text), limit=3000), text)
    assert_blocks(blocks, allowed_markup())
    code = [o["text"] for o in text_objects(blocks[1:])]
    assert all(c.startswith("```") and c.endswith("```") for c in code)
    if len(blocks) < BLOCK_LIMIT:
        echoed = "".join(shown_once(c[3:-3]) for c in code)
        assert re.sub(r"\s", "", echoed) == re.sub(r"\s", "", clean_text(text))


def assert_notification(text: str, limit: int) -> None:
    assert 0 < len(text) <= limit
    assert "<" not in text and ">" not in text and "\n" not in text
    assert not CONTROL.search(text)
    assert not BROADCAST_WORD.search(text), text


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(typed(5000), mixed), limit=st.integers(1, 3000))
def test_notification_text_is_escaped_once_and_cannot_broadcast(text: str, limit: int) -> None:
    shown = notification_text(text, limit)
    plain = one_line(text)
    if not plain:
        assert shown == ""
        return
    assert_notification(shown, limit)
    if len(escape(plain)) <= limit and not BROADCAST_WORD.search(plain):
        assert shown_once(shown) == plain  # escaped exactly once, nothing else changed


# --- Examples --------------------------------------------------------------------------------


def test_fallback_text_is_escaped_once() -> None:
    story = Story(id=1, customer="A&B <x>", quote="fish & chips", author="UAUTHOR")
    assert story_fallback_text(story, "en") == "Customer of the week: A&amp;B &lt;x&gt;: fish &amp; chips"


def test_typed_broadcast_words_stay_text_in_posts_and_notifications() -> None:
    story = Story(id=1, customer="Acme", quote="@channel see #general and www.x.io", author="UAUTHOR")
    blocks = story_post_blocks(story, "en")
    quote = blocks[1]["text"]
    assert quote == {"type": "mrkdwn", "text": ">@channel see #general and www.x.io", "verbatim": True}
    assert "@\u2060channel" in story_fallback_text(story, "en")


def test_quote_is_escaped_exactly_once() -> None:
    story = Story(id=1, customer="Acme", quote="a &amp; b <!here> &lt;", author="UAUTHOR")
    quote = story_post_blocks(story, "en")[1]["text"]["text"]
    assert quote == ">a &amp;amp; b &lt;!here&gt; &amp;lt;"
    assert shown_once(quote[1:]) == story.quote


def test_anonymous_post_names_nobody() -> None:
    story = Story(
        id=1,
        customer="Acme",
        contact="Jane, CFO",
        quote="ok",
        impact="faster",
        consent="anonymous",
        author=AUTHOR,
    )
    shown = json.dumps(story_post_blocks(story, "en")) + story_fallback_text(story, "en")
    assert "Acme" not in shown and "Jane" not in shown and "faster" in shown


def test_invalid_author_and_credits_are_never_mentioned() -> None:
    story = Story(
        id=1,
        customer="Acme",
        quote="ok",
        author="Jane <!channel>",
        credited=("UGOOD1", "bob", "<!here>", "UGOOD1"),
    )
    text = mrkdwn_text(story_post_blocks(story, "en"))
    assert "<@UGOOD1>" in text and text.count("<@") == 1 and "Jane" not in text


def test_source_link_in_confirmation_is_built_from_the_validated_url() -> None:
    good = Story(id=1, customer="Acme", quote="ok", author=AUTHOR, source=GOOD_SOURCES[0])
    text = mrkdwn_text(confirmation_blocks(good, "en"))
    assert f"<{GOOD_SOURCES[0].replace('&', '&amp;')}|acme.slack.com>" in text
    bad = Story(id=1, customer="Acme", quote="ok", author=AUTHOR, source="javascript:alert(1)")
    assert "javascript" not in json.dumps(confirmation_blocks(bad, "en"))


def test_modal_keeps_typed_text_unescaped() -> None:
    view = story_modal(Draft(customer="A & B", quote="<!here> & more"), "en")
    by_id = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert by_id["customer"]["initial_value"] == "A & B"
    assert by_id["quote"]["initial_value"] == "<!here> & more"
