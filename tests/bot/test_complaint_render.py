"""Complaint messages, the resolve modal and the resolved DM with hostile typed text: valid Block
Kit within Slack's limits, nothing live from user text, and no customer under anonymous consent."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.complaints import (
    ACTION_OWN,
    ACTION_RESOLVE,
    complaint_blocks,
    complaint_text,
    read_change,
    resolve_metadata,
    resolve_modal,
    resolved_dm,
)
from bot.messages import t
from domain.complaint import CHANGE_LIMIT, OPEN, OWNED, RESOLVED, Complaint, change_errors, clean_change
from domain.story import Story, is_user_id
from tests.bot.hostile import (
    AUTHOR,
    BROADCAST_WORD,
    CONTROL,
    allowed_markup,
    assert_blocks,
    assert_view,
    stories,
    text_objects,
    typed,
    user_ids,
)

LANGS = st.sampled_from(("en", "de", "nl"))
T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


@st.composite
def complaints(draw: st.DrawFn, story: Story) -> Complaint:
    state = draw(st.sampled_from((OPEN, OWNED, RESOLVED)))
    owner = draw(user_ids) if state != OPEN else ""
    return Complaint(
        story_id=story.id,
        workspace_id=1,
        state=state,
        opened_at=T0,
        owner=owner,
        owned_at=T0 + timedelta(hours=1) if owner else None,
        resolved_by=draw(user_ids) if state == RESOLVED else "",
        resolved_at=T0 + timedelta(days=1) if state == RESOLVED else None,
        change=draw(typed(CHANGE_LIMIT)) if state == RESOLVED else "",
        channel="C0IMP",
        ts="1700000000.000100",
    )


def allowed(story: Story, complaint: Complaint) -> re.Pattern[str]:
    users = {
        u for u in (story.author, *story.credited, complaint.owner, complaint.resolved_by) if is_user_id(u)
    }
    return allowed_markup(users)


def everything(payload: object) -> str:
    return "\n".join(o["text"] for o in text_objects(payload))


def assert_notification(text: str) -> None:
    assert 0 < len(text) <= 300
    assert "<" not in text and ">" not in text and "\n" not in text
    assert not CONTROL.search(text) and not BROADCAST_WORD.search(text), text


@settings(max_examples=200, deadline=None)
@given(data=st.data(), story=stories(), lang=LANGS)
def test_complaint_message_is_inert_within_limits_and_anonymous_when_asked(
    data: st.DataObject, story: Story, lang: str
) -> None:
    story = replace(story, kind="complaint")
    complaint = data.draw(complaints(story))
    blocks = complaint_blocks(story, complaint, lang)
    assert_blocks(blocks, allowed(story, complaint))
    assert_notification(complaint_text(story, complaint, lang))
    actions = {e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert actions == (set() if complaint.state == RESOLVED else {ACTION_OWN, ACTION_RESOLVE})
    if story.consent == "anonymous":
        assert blocks[0]["text"]["text"] == t("complaint.header_anonymous", lang)
        assert not any(b["type"] == "context" and "—" in everything(b) for b in blocks)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), story=stories(), lang=LANGS, author=st.booleans())
def test_resolved_dm_is_inert_and_names_an_anonymous_customer_only_to_the_author(
    data: st.DataObject, story: Story, lang: str, author: bool
) -> None:
    story = replace(
        story,
        kind="complaint",
        customer="Zyxwv Corp",
        consent=data.draw(st.sampled_from(("internal", "anonymous"))),
    )
    complaint = replace(data.draw(complaints(story)), state=RESOLVED, resolved_by=AUTHOR, resolved_at=T0)
    blocks, text = resolved_dm(story, complaint, lang, author=author)
    assert_blocks(blocks, allowed(story, complaint))
    assert_notification(text)
    named = "Zyxwv" in everything(blocks) + text
    assert named == (author or story.consent != "anonymous")


@settings(max_examples=100, deadline=None)
@given(story=stories(), lang=LANGS)
def test_resolve_modal_is_a_valid_view(story: Story, lang: str) -> None:
    view = resolve_modal(story, lang)
    assert_view(view, allowed_markup())
    assert resolve_metadata(view) == story.id
    if story.consent == "anonymous" and story.customer.strip() not in ("", "A customer"):
        assert f"*{story.customer}*" not in everything(view)


@settings(max_examples=200, deadline=None)
@given(text=typed(CHANGE_LIMIT + 50))
def test_what_changed_is_read_clean_and_checked(text: str) -> None:
    view = {"state": {"values": {"change": {"value": {"type": "plain_text_input", "value": text}}}}}
    change = read_change(view)
    assert change == clean_change(text) and not CONTROL.search(change)
    errors = change_errors(change)
    assert bool(errors) == (not change or len(change) > CHANGE_LIMIT)


def test_junk_submissions_read_as_nothing() -> None:
    junks: list[dict[str, Any]] = [
        {},
        {"state": None},
        {"state": []},
        {"state": {"values": {"change": {"value": "text"}}}},
        {"state": {"values": {"change": {"value": {"value": 7}}}}},
    ]
    for junk in junks:
        assert read_change(junk) == ""
    for meta in ("", "null", "[]", '{"story_id": "7"}', '{"story_id": true}', '{"story_id": -1}', "{"):
        assert resolve_metadata({"private_metadata": meta}) is None


def test_a_typed_broadcast_stays_text_in_the_message() -> None:
    story = Story(
        id=7,
        customer="Acme <!channel>",
        quote="It broke <!here> @channel",
        impact="Lost <@U0BAD> a day",
        kind="complaint",
        author="U0REP",
        created_at=T0,
    )
    complaint = Complaint(story_id=7, workspace_id=1, state=OPEN, opened_at=T0)
    blocks = complaint_blocks(story, complaint, "en")
    shown = everything(blocks)
    assert "&lt;!here&gt;" in shown and "&lt;@U0BAD&gt;" in shown
    assert "<!here>" not in shown and "<!channel>" not in shown and "<@U0BAD>" not in shown
    assert blocks[0]["text"]["text"] == "Complaint: Acme &lt;!channel&gt;"
    assert "Logged by <@U0REP>" in shown and "What it cost them:" in shown
    assert complaint_text(story, complaint, "en").startswith("Complaint from Acme &lt;!channel&gt;:")
