"""What is stored: text as the user typed it (Slack's escaping undone once), without control
characters; credits only Slack user IDs, distinct and capped; sources only http(s) links."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.modal import read_submission
from bot.quicklog import mentioned_users, parse_quick_log, plain_text
from bot.render import escape
from domain.story import MAX_CREDITED, Draft, clean_text, is_user_id, is_web_url, validate
from tests.bot.hostile import CONTROL, FRAGMENTS, mixed, typed

TEXT_FIELDS = ("customer", "quote", "contact", "impact", "source")
valid_ids = st.from_regex(r"[UW][A-Z0-9]{2,10}", fullmatch=True)
# What a user types, without white space (plain_text tidies spaces) or control characters.
visible = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")).filter(
        lambda c: not c.isspace()
    ),
    min_size=1,
    max_size=200,
)


def slack_escaped(typed: str) -> str:
    """What Slack sends for typed text: &, < and > escaped."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def drafts(draw: st.DrawFn) -> Draft:
    return Draft(
        customer=draw(typed(250)),
        quote=draw(typed(3500)),
        contact=draw(typed(250)),
        impact=draw(typed(1200)),
        kind=draw(st.sampled_from(("praise", " Complaint ", "idea\x00", "nonsense"))),
        tags=tuple(draw(st.lists(typed(40), max_size=12))),
        credited=tuple(draw(st.lists(st.one_of(valid_ids, typed(20)), max_size=30))),
        consent=draw(st.sampled_from(("internal", "PUBLIC", "anonymous\r\n", "whatever"))),
        source=draw(
            st.one_of(typed(300), st.sampled_from(("https://x.io/a?b=1&c=2", "ftp://x", "javascript:x")))
        ),
    )


@settings(max_examples=200, deadline=None)
@given(draft=drafts())
def test_cleaned_drafts_hold_no_control_characters(draft: Draft) -> None:
    clean = draft.cleaned()
    for name in TEXT_FIELDS:
        value = getattr(clean, name)
        assert not CONTROL.search(value) and value == value.strip()
    assert all(not CONTROL.search(t) and t for t in clean.tags)
    assert len(clean.credited) == len(set(clean.credited))
    assert clean.cleaned() == clean  # idempotent: cleaning twice changes nothing


@settings(max_examples=200, deadline=None)
@given(draft=drafts())
def test_valid_drafts_credit_only_user_ids_and_link_only_http(draft: Draft) -> None:
    clean = draft.cleaned()
    errors = validate(clean)
    if "credited" not in errors:
        assert all(is_user_id(u) for u in clean.credited) and len(clean.credited) <= MAX_CREDITED
    if "source" not in errors and clean.source:
        parts = urlsplit(clean.source)
        assert parts.scheme.lower() in ("http", "https") and parts.hostname
        assert not re.search(r"[\s<>|]", clean.source)


def test_credit_cap_is_named_in_the_error() -> None:
    many = tuple(f"U{n:04d}" for n in range(MAX_CREDITED + 1))
    assert validate(Draft(customer="A", quote="q", credited=many[:MAX_CREDITED])) == {}
    assert validate(Draft(customer="A", quote="q", credited=many)) == {
        "credited": ("error.too_many_credited", {"limit": MAX_CREDITED})
    }
    assert validate(Draft(customer="A", quote="q", credited=("Jane Doe",)))["credited"][0] == "error.credited"
    assert validate(Draft(customer="A", quote="q", credited=("U123\n",)))["credited"][0] == "error.credited"


@pytest.mark.parametrize(
    "source",
    ["javascript:alert(1)", "ftp://x.io", "mailto:a@b.io", "http://", "https://x.io/<!here>", "http://a b"],
)
def test_non_http_sources_are_refused(source: str) -> None:
    assert validate(Draft(customer="A", quote="q", source=source))["source"][0] == "error.source"


def test_modal_submission_is_cleaned() -> None:
    values = {
        "customer": {"value": {"value": " Acme\x00 "}},
        "quote": {"value": {"value": "line\r\nnext\x1b[0m"}},
        "credited": {"value": {"selected_users": ["U1AB", "U1AB", "W2CD"]}},
    }
    draft = read_submission({"state": {"values": values}})
    assert (draft.customer, draft.quote, draft.credited) == ("Acme", "line\nnext[0m", ("U1AB", "W2CD"))


# --- Slack's escaped markup back to what the user typed --------------------------------------


@settings(max_examples=300, deadline=None)
@given(typed_text=visible)
def test_plain_text_undoes_slack_escaping_exactly_once(typed_text: str) -> None:
    # Typed "&amp;" arrives as "&amp;amp;" and is stored as "&amp;", shown escaped once.
    assert plain_text(slack_escaped(typed_text)) == typed_text


@settings(max_examples=300, deadline=None)
@given(sent=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=40).map("".join))
def test_plain_text_from_any_slack_text_is_clean_and_renders_inert(sent: str) -> None:
    stored = plain_text(sent)
    assert not CONTROL.search(stored) and stored == stored.strip()
    assert "<" not in escape(stored) and ">" not in escape(stored)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Heads up <!channel> and <!here|here>", "Heads up @channel and @here"),
        ("ping <!subteam^S1|@design> <!subteam^S2>", "ping @design @S2"),
        ("on <!date^1700000000^{date_short}|Nov 14>", "on Nov 14"),
        ("see <https://x.io/a> or <http://example.com|example.com>", "see https://x.io/a or example.com"),
        ("<http://evil.example|click here>", "click here (http://evil.example)"),
        ("mail <mailto:a@b.io|a@b.io>", "mail a@b.io"),
        ("in <#C1|general> and <#C2>", "in #general and #C2"),
        ("&amp;lt;!channel&amp;gt; &amp;copy; &lt;3", "&lt;!channel&gt; &copy; <3"),
        ("thanks <@U0AB|bob>, great", "thanks, great"),
    ],
)
def test_plain_text_examples(sent: str, stored: str) -> None:
    assert plain_text(sent) == stored


@settings(max_examples=100, deadline=None)
@given(users=st.lists(valid_ids, max_size=40), noise=mixed)
def test_mentions_become_distinct_capped_credits(users: list[str], noise: str) -> None:
    text = "Acme: great " + " ".join(f"<@{u}|name>" for u in users) + " " + slack_escaped(noise)
    credited = mentioned_users(text)
    assert credited == tuple(dict.fromkeys(users))[:MAX_CREDITED]
    parsed = parse_quick_log(text)
    assert parsed.credited == credited
    assert (
        validate(
            Draft(customer=parsed.customer, quote=parsed.quote or "q", credited=parsed.credited).cleaned()
        ).get("credited")
        is None
    )


def test_clean_text_keeps_newlines_and_tabs() -> None:
    assert clean_text("a\tb\r\nc\rd\x00\x7f\x9fe\u200b") == "a\tb\nc\nde\u200b"
    assert is_web_url("https://acme.slack.com/archives/C1/p1?thread_ts=1&cid=C1")
