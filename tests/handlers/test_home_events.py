"""Reactions on bot posts and the App Home tab, driven over HTTP against the real app."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import func, select

from bot.home_view import HOME_BLOCK_LIMIT, ManagerHome, home_view
from domain.home import AuthorImpact
from domain.schedule import ChannelSchedule, ScheduleSpec
from domain.story import Draft, Story
from domain.viewer import Viewer
from storage import channels, posts, queries
from storage.models import ReactionRow
from tests.conftest import SECRET, RunningApp, drop_tables
from tests.signing import event_body, post, signed_headers
from tests.slack_spec import assert_calls_match_spec

POST_TS = "1700000000.000100"
EVENTS_LOGGER = "impact.handlers"


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def add_story(
    app: RunningApp, author: str = "U1", team: str = "T111", created_at: datetime | None = None, **fields: Any
) -> Story:
    draft = Draft(**{"customer": "Acme", "quote": "It just works", **fields})
    with app.db.session() as session:
        ws = queries.workspace_id(session, team)
        return queries.add_story(session, ws, draft, author=author, channel="C1", created_at=created_at)


def add_post(app: RunningApp, story: Story | None, channel: str = "C1", ts: str = POST_TS) -> None:
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        posts.add_post(session, ws, channel, ts, "story", story_id=story.id if story else None)


def reaction_count(app: RunningApp) -> int:
    with app.db.session() as session:
        return int(session.scalar(select(func.count(ReactionRow.id))) or 0)


def reaction_event(
    kind: str = "reaction_added",
    user: str = "U2",
    reaction: str = "tada",
    channel: str = "C1",
    ts: str = POST_TS,
    item_type: str = "message",
) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user,
        "reaction": reaction,
        "item_user": "UBOT",
        "item": {"type": item_type, "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }


def send(app: RunningApp, body: str, retry: int = 0) -> int:
    """Deliver an event as Slack does; a retry carries X-Slack-Retry-Num, like Slack's."""
    headers = signed_headers(SECRET, body)
    if retry:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    status, _ = post(app.url + "/slack/events", body, headers)
    return status


def logged(caplog: Any, message: str) -> Callable[[], bool]:
    return lambda: any(r.getMessage() == message for r in caplog.records)


def uncounted(caplog: Any, user: str) -> int:
    return sum(r.getMessage() == f"reaction tada by {user} on C1/{POST_TS} uncounted" for r in caplog.records)


@pytest.fixture
def debug_log(caplog: Any) -> Any:
    caplog.set_level(logging.DEBUG, logger=EVENTS_LOGGER)
    return caplog


# --- Reactions -------------------------------------------------------------------------


def test_reaction_on_bot_post_counts_once_even_when_retried_and_removal_uncounts(
    running: RunningApp, debug_log: Any
) -> None:
    add_post(running, add_story(running))
    added = event_body(reaction_event(), event_id="Ev1")
    started = time.monotonic()
    assert send(running, added) == 200
    assert time.monotonic() - started < 3
    wait_until(lambda: reaction_count(running) == 1)

    # Slack redelivers the same event; the reaction is still there.
    running.standin.reactions[("C1", POST_TS)] = [{"name": "tada", "users": ["U2"], "count": 1}]
    assert send(running, added, retry=1) == 200
    wait_until(logged(debug_log, f"reaction tada by U2 on C1/{POST_TS} already counted"))
    assert reaction_count(running) == 1

    # A second user's reaction counts on its own.
    assert send(running, event_body(reaction_event(user="U3"), event_id="Ev2")) == 200
    wait_until(lambda: reaction_count(running) == 2)

    removed = event_body(reaction_event("reaction_removed"), event_id="Ev3")
    assert send(running, removed) == 200
    wait_until(lambda: reaction_count(running) == 1)
    running.standin.reactions[("C1", POST_TS)] = [{"name": "tada", "users": ["U3"], "count": 1}]
    assert send(running, removed, retry=1) == 200
    # Both deliveries of the removal have been handled once it was uncounted twice.
    wait_until(lambda: uncounted(debug_log, "U2") == 2)
    # Only U2's reaction went; U3's is still counted.
    assert reaction_count(running) == 1
    assert_calls_match_spec(running.standin.calls)


def test_late_retry_of_added_does_not_resurrect_a_removed_reaction(
    running: RunningApp, debug_log: Any
) -> None:
    add_post(running, add_story(running))
    added = event_body(reaction_event(), event_id="Ev1")
    send(running, added)
    wait_until(lambda: reaction_count(running) == 1)
    send(running, event_body(reaction_event("reaction_removed"), event_id="Ev2"))
    wait_until(lambda: reaction_count(running) == 0)
    # The retry of the first delivery arrives after the removal: Slack shows no reaction now.
    send(running, added, retry=2)
    running.standin.wait_for("reactions.get")
    wait_until(lambda: uncounted(debug_log, "U2") == 2)
    assert reaction_count(running) == 0


def test_late_retry_of_removed_keeps_a_reaction_added_again(running: RunningApp, debug_log: Any) -> None:
    add_post(running, add_story(running))
    removed = event_body(reaction_event("reaction_removed"), event_id="Ev2")
    send(running, event_body(reaction_event(), event_id="Ev1"))
    wait_until(lambda: reaction_count(running) == 1)
    send(running, removed)
    wait_until(lambda: reaction_count(running) == 0)
    send(running, event_body(reaction_event(), event_id="Ev3"))
    wait_until(lambda: reaction_count(running) == 1)
    running.standin.reactions[("C1", POST_TS)] = [{"name": "tada", "users": ["U2"], "count": 1}]
    send(running, removed, retry=1)
    wait_until(logged(debug_log, f"reaction tada by U2 on C1/{POST_TS} already counted"))
    assert reaction_count(running) == 1


def test_reactions_on_other_messages_are_ignored(running: RunningApp, debug_log: Any) -> None:
    add_post(running, add_story(running))
    other_ts = "1700000000.000999"
    send(running, event_body(reaction_event(ts=other_ts), event_id="Ev1"))
    wait_until(logged(debug_log, f"reaction tada by U2 on C1/{other_ts} ignored: not a bot post"))
    # Another workspace is refused outright in single-workspace mode: answered 200, nothing kept.
    assert send(running, event_body(reaction_event(user="U7"), team_id="T999", event_id="Ev2")) == 200
    wait_until(
        logged(debug_log, "refused a request from team 'T999' (enterprise None): not this bot's workspace")
    )
    # A reaction on a file is not a message at all.
    send(running, event_body(reaction_event(user="U8", item_type="file"), event_id="Ev3"))
    # Then one that counts: everything before it has been handled or dropped by now.
    send(running, event_body(reaction_event(user="U9"), event_id="Ev4"))
    wait_until(lambda: reaction_count(running) >= 1)
    time.sleep(0.2)
    with running.db.session() as session:
        users = set(session.scalars(select(ReactionRow.user_id)))
    assert users == {"U9"}


def test_reaction_with_database_down_is_logged_not_crashed(running: RunningApp, caplog: Any) -> None:
    add_post(running, add_story(running))
    drop_tables(running.db, "reactions")
    assert send(running, event_body(reaction_event(), event_id="Ev1")) == 200
    wait_until(lambda: "could not count reaction tada on C1" in caplog.text)
    # The app still answers.
    assert send(running, event_body(reaction_event("reaction_removed"), event_id="Ev2")) == 200


# --- App Home --------------------------------------------------------------------------


def open_home(app: RunningApp, user: str, count: int = 1, tab: str = "home") -> dict[str, Any]:
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    assert send(app, event_body(event, event_id=f"EvHome{user}{count}")) == 200
    call = app.standin.wait_for("views.publish", count)[-1]
    assert call.args["user_id"] == user
    view: dict[str, Any] = call.json_arg("view")
    View(**view).validate_json()
    assert view["type"] == "home"
    assert len(view["blocks"]) <= HOME_BLOCK_LIMIT
    return view


def texts(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("type") == "button"]


def seed_workspace(app: RunningApp) -> None:
    """U1's stories (two featured posts, three reactions), others' stories, a complaint."""
    old = datetime.now(UTC) - timedelta(days=3)
    mine = add_story(app, customer="Acme & Co", quote="Ping <!channel> please, <@U0BAD>", created_at=old)
    add_story(app, customer="Gone Corp", quote="deleted words")
    add_story(app, customer="Hidden Corp", quote="Complaint words", kind="complaint")
    add_story(app, author="U2", customer="SecretCorp", quote="Quiet praise", consent="anonymous")
    add_story(app, author="U2", team="T999", customer="OtherWorkspace", quote="not yours")
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        gone = [s for s in queries.stories_by_author(session, ws, "U1") if s.customer == "Gone Corp"][0]
        queries.delete_story(session, ws, gone.id)
    add_post(app, mine, "C1", "1700000000.000100")
    add_post(app, mine, "C2", "1700000000.000200")
    add_post(app, gone, "C1", "1700000000.000300")
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
    for user, ts in (("U2", "000100"), ("U3", "000100"), ("U2", "000200"), ("U4", "000300")):
        posts.add_reaction(app.db, ws, "C1" if ts != "000200" else "C2", f"1700000000.{ts}", user, "tada")


def test_home_shows_my_counts_and_recent_voices_escaped(running: RunningApp) -> None:
    seed_workspace(running)
    view = open_home(running, "U1")
    shown = texts(view)
    # Two live stories (the deleted one does not count), featured twice, three reactions.
    assert "Stories you shared: *2*" in shown
    assert "Times featured: *2*" in shown
    assert "Reactions received: *3*" in shown
    assert "Recent customer voices" in shown
    assert "&lt;!channel&gt;" in shown and "&lt;@U0BAD&gt;" in shown
    assert "<!channel>" not in shown and "<@U0BAD>" not in shown
    assert "Acme &amp; Co" in shown
    # Anonymous consent hides the customer; deleted stories, complaints and other workspaces are absent.
    assert "Quiet praise" in shown and "SecretCorp" not in shown
    for absent in ("deleted words", "Complaint words", "OtherWorkspace"):
        assert absent not in shown
    # Nothing for managers.
    assert buttons(view) == []
    assert "Open complaints" not in shown and "Scheduled posts" not in shown
    assert_calls_match_spec(running.standin.calls)


def test_home_for_a_newcomer_invites_them_to_share(running: RunningApp) -> None:
    view = open_home(running, "U5")
    shown = texts(view)
    assert "Stories you shared: *0*" in shown
    assert "/impact Acme Corp: what they said" in shown
    assert "No customer voices yet" in shown


def seed_manager_data(app: RunningApp) -> None:
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        channels.set_channel_schedules(
            session,
            ws,
            "C1",
            [
                ScheduleSpec("story", ("mon",), "09:00", "Europe/Berlin"),
                ScheduleSpec("prompt", ("tue", "thu"), "09:30", "Europe/Berlin"),
            ],
            skip_dates=["2030-12-24"],
        )
        channels.set_channel_schedules(session, ws, "C2", [ScheduleSpec("story", ("fri",), "16:00", "UTC")])
    for n in range(7):
        add_story(app, author="U2", customer=f"Unhappy {n}", quote=f"Broken <!here> #{n}", kind="complaint")
    add_story(app, author="U2", customer="Closed", quote="resolved long ago", kind="complaint")
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        closed = [s for s in queries.stories_by_author(session, ws, "U2", 20) if s.customer == "Closed"][0]
        queries.delete_story(session, ws, closed.id)


def assert_manager_sections(view: dict[str, Any]) -> None:
    shown = texts(view)
    assert "Scheduled posts" in shown
    assert "<#C1>" in shown and "<#C2>" in shown
    assert "Mon at 09:00 (Europe/Berlin)" in shown and "Tue, Thu at 09:30" in shown
    # The next run in the schedule's own zone, as the language writes dates (bot.dates).
    assert "next: Monday, " in shown and " at 09:00" in shown
    posts = buttons(view)
    assert [(b["action_id"], json.loads(b["value"])["c"]) for b in posts] == [
        ("home_post_now", "C1"),
        ("home_post_now", "C2"),
    ]
    assert all(b["text"]["text"] == "Post now" for b in posts)
    assert "Open complaints: 7" in shown
    assert shown.count("Broken &lt;!here&gt;") == 5
    assert "<!here>" not in shown and "resolved long ago" not in shown
    assert "Showing the 5 most recent of 7." in shown


def test_home_for_manager_shows_schedules_post_now_and_open_complaints(running: RunningApp) -> None:
    seed_manager_data(running)
    view = open_home(running, "UBOSS")
    assert_manager_sections(view)
    # The manager's own counts are there too.
    assert "Stories you shared: *0*" in texts(view)
    assert_calls_match_spec(running.standin.calls)


def test_home_for_workspace_admin_is_a_manager_home(running: RunningApp) -> None:
    seed_manager_data(running)
    running.standin.users["UADM"] = {"is_admin": True}
    assert_manager_sections(open_home(running, "UADM", 1))
    # Another non-admin user sees none of it.
    other = open_home(running, "U7", 2)
    assert buttons(other) == [] and "Open complaints" not in texts(other)
    assert_calls_match_spec(running.standin.calls)


def test_home_ignores_other_tabs(running: RunningApp) -> None:
    event = {"type": "app_home_opened", "user": "U1", "channel": "DU1", "tab": "messages", "event_ts": "1.0"}
    assert send(running, event_body(event, event_id="EvMsg")) == 200
    open_home(running, "U1")
    time.sleep(0.2)
    assert len(running.standin.calls_to("views.publish")) == 1


def test_home_with_database_down_publishes_an_apology(running: RunningApp) -> None:
    drop_tables(running.db, "stories")
    view = open_home(running, "U1")
    assert "couldn't reach my database" in texts(view)


# --- The pure builder at Slack's limits ------------------------------------------------


def test_home_view_stays_within_slack_limits() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    heavy = Story(
        id=1,
        customer="&" * 200,
        quote="<&>" * 1000,
        kind="complaint",
        author="U1",
        created_at=now,
    )
    schedules = [
        ChannelSchedule(
            id=n,
            workspace_id=1,
            team_id="T111",
            channel_id=f"C{n:04d}",
            spec=ScheduleSpec("story", ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "09:00", "UTC"),
            created_at=now,
            tags=(),
            language=None,
            skip_dates=(),
        )
        for n in range(150)
    ]
    manager = ManagerHome(schedules=schedules, open_complaints=40, complaints=[heavy] * 5)
    view = home_view("en", AuthorImpact(3, 2, 1), [heavy] * 5, now, manager, viewer=Viewer("UBOSS", True))
    View(**view).validate_json()
    assert len(view["blocks"]) <= HOME_BLOCK_LIMIT
    shown = texts(view)
    assert "more channels with schedules" in shown
    posted = len(buttons(view))
    assert 0 < posted < 150
    assert f"…and {150 - posted} more channels with schedules." in shown
    assert "Open complaints: 40" in shown
    for block in view["blocks"]:
        for part in [block.get("text") or {}, *block.get("elements", [])]:
            assert len(part.get("text", "")) <= 3000


def test_post_now_from_home_posts_once_even_when_double_clicked(running: RunningApp) -> None:
    from tests.signing import block_action_payload, interactive_body

    seed_manager_data(running)
    add_story(running, customer="Featured Inc", quote="Worth a post")
    view = open_home(running, "UBOSS")
    button = next(b for b in buttons(view) if json.loads(b["value"])["c"] == "C1")
    click = block_action_payload(
        "home_post_now", button["value"], user_id="UBOSS", channel_id=None, view=view
    )
    assert running.post(interactive_body(click))[0] == 200
    assert running.post(interactive_body(click))[0] == 200
    dms = running.standin.wait_for("views.publish", 2)  # the Home tab is refreshed after posting
    assert dms
    wait_until(
        lambda: (
            len([c for c in running.standin.attempts_to("chat.postMessage") if c.args["channel"] == "UBOSS"])
            >= 2
        )
    )
    posts = [c for c in running.standin.calls_to("chat.postMessage") if c.args["channel"] == "C1"]
    assert len(posts) == 1
    replies = [
        c.args["text"] for c in running.standin.calls_to("chat.postMessage") if c.args["channel"] == "UBOSS"
    ]
    assert any("Posted in <#C1>" in r for r in replies) and any("already posted" in r for r in replies)
