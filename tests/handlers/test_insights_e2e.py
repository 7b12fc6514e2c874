"""`/impact stats`, the managers' insights in App Home and `/impact references`, over HTTP
against the real app and the Slack stand-in, on a SQLite file and on the local PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.home_view import HOME_BLOCK_LIMIT
from domain.schedule import ScheduleSpec
from domain.story import Draft, Story
from storage import channels, complaints, posts, queries
from storage.db import Database
from tests.conftest import SECRET, RunningApp
from tests.signing import command_body, event_body, post, signed_headers
from tests.slack_spec import assert_calls_match_spec
from tests.slack_standin import Call, SlackStandin

REFUSAL = "Only managers can do that"
HOSTILE_CUSTOMER = "Evil <!channel> <@U1> Corp"
HOSTILE_QUOTE = "Ping <!here> and <@U1> & <!subteam^S1|team> <http://evil.example|click>"
LIVE = ("<!channel>", "<!here>", "<@U1>", "<!subteam^S1", "<http://evil.example")


@pytest.fixture
def app(make_app: Any, any_db: Database) -> RunningApp:
    """The real app on a SQLite file and on PostgreSQL."""
    running: RunningApp = make_app(any_db)
    return running


@pytest.fixture(autouse=True)
def nothing_pings_anyone(standin: SlackStandin) -> Iterator[None]:
    """Whatever a test did, nothing the app sent carried a live broadcast or a typed mention."""
    yield
    for call in standin.calls:
        sent = json.dumps(call.args)
        for live in LIVE:
            assert live not in sent, f"{live} went out live in {call.method}: {sent[:300]}"


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def add_story(
    app: RunningApp,
    customer: str,
    days_ago: float = 0,
    author: str = "U0AUTH",
    team: str = "T111",
    channel: str = "C1",
    **fields: Any,
) -> Story:
    draft = Draft(**{"customer": customer, "quote": fields.pop("quote", "It just works"), **fields})
    with app.db.session() as session:
        ws = queries.workspace_id(session, team)
        created = datetime.now(UTC) - timedelta(days=days_ago)
        return queries.add_story(session, ws, draft, author=author, channel=channel, created_at=created)


def replies(app: RunningApp, name: str) -> list[Call]:
    return [c for c in app.standin.calls_to("response_url") if c.path == f"/respond/{name}"]


def command(app: RunningApp, text: str, user: str, name: str) -> dict[str, Any]:
    """Run `/impact TEXT` as `user` and return the one ephemeral reply, checked as Block Kit."""
    body = command_body(text=text, user_id=user, response_url=app.standin.response_url(name))
    status, _ = app.post(body)
    assert status == 200
    wait_until(lambda: len(replies(app, name)) >= 1)
    time.sleep(0.1)  # a second reply would be a bug: give it the chance to show
    found = replies(app, name)
    assert len(found) == 1
    reply = found[0].args
    assert reply.get("response_type", "ephemeral") == "ephemeral"
    assert 0 < len(reply["blocks"]) <= 50
    for block in reply["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    return reply


def shown(reply: dict[str, Any]) -> str:
    return json.dumps(reply["blocks"], ensure_ascii=False)


# --- /impact stats ---------------------------------------------------------------------


def seed_insights(app: RunningApp) -> None:
    """This week: two praises (one with a hostile customer), a referral, an anonymous idea, an
    open and a resolved complaint; older stories; a featured post with reactions; a quiet
    scheduled channel."""
    acme = add_story(app, HOSTILE_CUSTOMER, quote=HOSTILE_QUOTE, credited=("U0CRED", "U0HELP"))
    add_story(app, HOSTILE_CUSTOMER, credited=("U0CRED",))
    add_story(app, "Referrer Inc", kind="referral", consent="public")
    add_story(app, "SecretCorp", kind="idea", consent="anonymous", credited=("U0CRED",))
    add_story(app, "Grumpy Ltd", days_ago=0, kind="complaint")
    fixed = add_story(app, "Fixed Co", kind="complaint")
    add_story(app, "Older Co", days_ago=22)
    add_story(app, "Elsewhere Inc", team="T999", credited=("U0OTHER",))
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        posts.add_post(session, ws, "C1", "1700000000.000100", "story", story_id=acme.id)
        channels.set_channel_schedules(session, ws, "C1", [ScheduleSpec("story", ("mon",), "09:00", "UTC")])
        channels.set_channel_schedules(
            session, ws, "CQUIET", [ScheduleSpec("prompt", ("tue",), "09:00", "UTC")]
        )
        complaints.resolve(session, ws, fixed.id, "U0FIXER", "We fixed the export")
    for user in ("U2", "U3"):
        posts.add_reaction(app.db, ws, "C1", "1700000000.000100", user, "tada")


def test_stats_show_a_manager_this_weeks_figures_and_a_chart(app: RunningApp) -> None:
    seed_insights(app)
    reply = command(app, "stats", "UBOSS", "stats")
    text = shown(reply)
    assert reply["text"] == "Customer voice insights"
    assert reply["blocks"][0]["type"] == "header"
    # This week's figures: six stories logged here, one featured post with two reactions.
    assert "*This week:* stories logged *6* · featured *1* · reactions *2*" in text
    assert "*Last 12 weeks:* stories logged *7*" in text
    # The chart: a row of bars per kind, this week's bar the tallest for praise, with totals.
    chart = next(b["text"]["text"] for b in reply["blocks"] if "```" in b.get("text", {}).get("text", ""))
    rows = {line.split()[0]: line for line in chart.split("```")[1].split("\n")}
    assert set(rows) == {"Praise", "Complaint", "Idea", "Referral"}
    assert rows["Praise"].endswith("█  3") and rows["Complaint"].endswith("█  2")
    # Colleagues as mentions the bot built; customers escaped; the anonymous one only counted.
    assert "1. <@U0CRED> · 3" in text and "2. <@U0HELP> · 1" in text
    assert "Evil &lt;!channel&gt; &lt;@U1&gt; Corp* · 2" in text
    assert "SecretCorp" not in text and "Plus 1 from customers who asked to stay anonymous." in text
    assert "Open complaints: 1*" in text and "Grumpy Ltd: open for less than an hour" in text
    assert "Median time from complaint to resolved (last 12 weeks): *less than an hour*" in text
    assert "<#CQUIET>: no story featured yet" in text and "<#C1>" not in text
    # Another workspace's data never shows.
    assert "Elsewhere" not in text and "U0OTHER" not in text
    assert_calls_match_spec(app.standin.calls)


def test_stats_are_refused_to_a_rep_and_nothing_is_shown(app: RunningApp) -> None:
    seed_insights(app)
    reply = command(app, "stats", "U1", "rep")
    assert REFUSAL in reply["text"]
    assert "Customer voice insights" not in shown(reply) and "U0CRED" not in shown(reply)
    assert app.standin.calls_to("chat.postMessage") == []


def test_stats_for_an_empty_workspace(app: RunningApp) -> None:
    text = shown(command(app, "stats", "UBOSS", "empty"))
    assert "stories logged *0*" in text and "Open complaints: 0*" in text


# --- App Home --------------------------------------------------------------------------


def open_home(app: RunningApp, user: str, count: int) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home", "event_ts": "1.0"}
    body = event_body(event, event_id=f"EvInsights{user}{count}")
    status, _ = post(app.url + "/slack/events", body, signed_headers(SECRET, body))
    assert status == 200
    call = app.standin.wait_for("views.publish", count)[count - 1]
    assert call.args["user_id"] == user
    view: dict[str, Any] = call.json_arg("view")
    View(**view).validate_json()
    assert len(view["blocks"]) <= HOME_BLOCK_LIMIT
    return view


def test_app_home_shows_insights_to_a_manager_and_not_to_a_rep(app: RunningApp) -> None:
    seed_insights(app)
    manager = json.dumps(open_home(app, "UBOSS", 1)["blocks"], ensure_ascii=False)
    assert "This week's insights" in manager
    assert "*This week:* stories logged *6*" in manager and "█  3" in manager
    assert "<@U0CRED>" in manager and "<#CQUIET>" in manager
    rep = json.dumps(open_home(app, "U1", 2)["blocks"], ensure_ascii=False)
    assert "This week's insights" not in rep and "U0CRED" not in rep and "stories logged" not in rep
    assert_calls_match_spec(app.standin.calls)


def test_app_home_with_many_schedules_keeps_the_insights_within_100_blocks(app: RunningApp) -> None:
    seed_insights(app)
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        for n in range(120):
            spec = [ScheduleSpec("story", ("mon",), "09:00", "UTC")]
            channels.set_channel_schedules(session, ws, f"CMANY{n:03d}", spec)
    view = open_home(app, "UBOSS", 1)
    blocks = json.dumps(view["blocks"], ensure_ascii=False)
    assert len(view["blocks"]) <= HOME_BLOCK_LIMIT
    # The schedules give way; the insights stay, whole.
    assert "more channels with schedules" in blocks
    assert "This week's insights" in blocks and "Scheduled channels without a fresh story" in blocks
    assert view["blocks"][-1]["text"]["text"].startswith("*Scheduled channels without a fresh story")


# --- /impact references ----------------------------------------------------------------


def seed_references(app: RunningApp) -> None:
    add_story(app, "Newest Public", days_ago=1, consent="public", tags=("export",))
    add_story(app, "Old Referral", days_ago=60, consent="public", kind="referral", author="U0SALES")
    add_story(app, HOSTILE_CUSTOMER, days_ago=3, quote=HOSTILE_QUOTE, consent="public")
    add_story(app, "New Referral", days_ago=10, consent="public", kind="referral", contact="Head of Ops")
    add_story(app, "Internal Referral", kind="referral")
    add_story(app, "Anonymous Referral", kind="referral", consent="anonymous")
    # A complaint is no reference, whatever its consent.
    add_story(app, "Grumbling Public", kind="complaint", consent="public", quote="export broke")
    add_story(app, "Idea Public", days_ago=30, kind="idea", consent="public", quote="more exports please")
    gone = add_story(app, "Deleted Public", consent="public")
    add_story(app, "Foreign Public", team="T999", consent="public", kind="referral")
    with app.db.session() as session:
        queries.delete_story(session, queries.workspace_id(session, "T111"), gone.id)


def customers_in(reply: dict[str, Any]) -> list[str]:
    """The customers listed, in order (the bold first line of each entry)."""
    found = []
    for block in reply["blocks"][1:]:
        text = block.get("text", {}).get("text", "")
        if block["type"] == "section" and text.startswith("*"):
            found.append(text[1:].split("*")[0])
    return found


def test_references_show_only_public_stories_referrals_first(app: RunningApp) -> None:
    seed_references(app)
    reply = command(app, "references", "U1", "refs")
    text = shown(reply)
    assert customers_in(reply) == [
        "New Referral",
        "Old Referral",
        "Newest Public",
        "Evil &lt;!channel&gt; &lt;@U1&gt; Corp",
        "Idea Public",
    ]
    for absent in ("Internal", "Anonymous Referral", "Deleted Public", "Foreign Public", "Grumbling"):
        assert absent not in text
    # Who logged it, to ask for an introduction: a mention of the stored author.
    assert "Logged by <@U0SALES>: ask them for an introduction" in text
    assert "Head of Ops" in text and "Referral" in text
    assert "Ping &lt;!here&gt; and &lt;@U1&gt; &amp;" in text
    assert_calls_match_spec(app.standin.calls)


def test_references_filter_by_words_or_tag_and_stay_public(app: RunningApp) -> None:
    seed_references(app)
    assert customers_in(command(app, "references export", "U1", "tag")) == ["Newest Public", "Idea Public"]
    assert customers_in(command(app, "references #export", "U1", "hash")) == ["Newest Public", "Idea Public"]
    assert customers_in(command(app, "references REFERRAL", "U1", "word")) == ["New Referral", "Old Referral"]
    # Words naming a story that is not public find nothing, and say so with a suggestion.
    empty = command(app, "references internal", "U1", "internal")
    assert "No public reference matches “internal”" in empty["text"]
    assert "kind *Referral*, consent *Public*" in shown(empty)
    assert "No public reference matches" in command(app, "references grumbling", "U1", "complaint")["text"]


def test_references_when_nobody_agreed_yet_suggest_logging_a_referral(app: RunningApp) -> None:
    add_story(app, "Internal Co", kind="referral")
    reply = command(app, "references", "U1", "none")
    assert "No customer has agreed to be quoted publicly yet" in reply["text"]
    hostile = command(app, "references <!channel> <@U1>", "U1", "hostile")
    assert "&lt;@U1&gt;" in hostile["text"]


def test_references_list_is_capped_and_says_there_are_more(app: RunningApp) -> None:
    for n in range(14):
        add_story(app, f"Public {n:02d}", days_ago=n, consent="public")
    reply = command(app, "references", "U1", "many")
    assert len(customers_in(reply)) == 10 and customers_in(reply)[0] == "Public 00"
    assert "Showing the first 10" in shown(reply)
