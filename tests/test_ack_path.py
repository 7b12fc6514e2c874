"""The quick log over HTTP against the real app: stored once with one statement in the
workspace the process cached and confirmed in the ack itself, never through response_url; the
answers that still go through response_url (`/impact list`) reuse one keep-alive connection and
are never resent when that connection drops; and a cached workspace id that went stale is
looked up again instead of storing the story in the wrong workspace."""

from __future__ import annotations

import http.server
import json
import logging
import time
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from bot.purge import purge_customer
from storage import queries
from storage.models import StoryRow, Workspace
from tests.conftest import RunningApp, acked_message
from tests.signing import command_body


@pytest.fixture
def keep_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in answers HTTP/1.1 and keeps connections open, as Slack's servers do
    (http.server speaks HTTP/1.0, one connection per request, unless told otherwise)."""
    monkeypatch.setattr(http.server.BaseHTTPRequestHandler, "protocol_version", "HTTP/1.1")


def command(app: RunningApp, text: str, name: str, team: str = "T111") -> str:
    """`/impact TEXT` with the response_url `name`; the body of the ack."""
    status, body = app.post(
        command_body(text=text, team_id=team, response_url=app.standin.response_url(name))
    )
    assert status == 200
    return body


def quick_log(app: RunningApp, text: str, name: str, team: str = "T111") -> dict[str, Any]:
    """A quick log; its confirmation, which the ack carries."""
    return acked_message(command(app, text, name, team))


def replies(app: RunningApp, name: str) -> list[Any]:
    return [c for c in app.standin.attempts_to("response_url") if c.path == f"/respond/{name}"]


def answer(app: RunningApp, name: str) -> dict[str, Any]:
    """The one post to the response_url `name`, once it has arrived."""
    deadline = time.monotonic() + 5
    while not replies(app, name):
        assert time.monotonic() < deadline, f"no answer to {name}"
        time.sleep(0.01)
    [reply] = replies(app, name)
    return dict(reply.args)


def kept_for_the_next_post(app: RunningApp) -> None:
    """The listener hands the connection back once it has read Slack's answer."""
    deadline = time.monotonic() + 5
    while app.services.response_urls.idle_connections() != 1:
        assert time.monotonic() < deadline, "the connection was not kept for the next post"
        time.sleep(0.01)


def stories_by_team(app: RunningApp) -> dict[str, list[str]]:
    with app.db.engine.begin() as conn:
        rows = conn.execute(
            select(Workspace.team_id, StoryRow.quote)
            .join(Workspace, StoryRow.workspace_id == Workspace.id)
            .order_by(StoryRow.id)
        )
        out: dict[str, list[str]] = {}
        for team, quote in rows:
            out.setdefault(team, []).append(quote)
        return out


def test_quick_logs_are_stored_once_and_confirmed_in_the_ack_and_lists_reuse_one_kept_alive_connection(
    running: RunningApp, keep_alive: None
) -> None:
    opened = running.services.response_urls.opened
    for n in range(3):
        reply = quick_log(running, f"Acme {n}: it saved us week {n}", f"q{n}")
        assert reply["text"].startswith("Saved")
        assert f"Customer of the week: Acme {n}" in json.dumps(reply["blocks"])
        assert f"story_actions_{n + 1}" in json.dumps(reply["blocks"])
        # `/impact list` is still answered through response_url, after an empty ack.
        assert command(running, "list", f"l{n}") == ""
        listed = answer(running, f"l{n}")
        kept_for_the_next_post(running)
        assert listed["text"] == "Your recent customer voices:"
        assert f"it saved us week {n}" in json.dumps(listed["blocks"])
        assert f"story_actions_{n + 1}" in json.dumps(listed["blocks"])
    assert stories_by_team(running) == {"T111": [f"it saved us week {n}" for n in range(3)]}
    assert running.services.response_urls.opened - opened == 1
    # The three lists, and no confirmation: those went in the acks.
    assert [c.path for c in running.standin.attempts_to("response_url")] == [
        f"/respond/l{n}" for n in range(3)
    ]


def test_a_list_whose_kept_alive_connection_drops_is_not_sent_again(
    running: RunningApp, keep_alive: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert quick_log(running, "Acme: first", "first")["text"].startswith("Saved")
    command(running, "list", "l1")
    answer(running, "l1")
    kept_for_the_next_post(running)
    running.standin.drop("response_url")  # Slack reads the post, then the connection drops
    with caplog.at_level(logging.WARNING, "impact.slack"):
        assert quick_log(running, "Acme: second", "second")["text"].startswith("Saved")
        command(running, "list", "l2")
        deadline = time.monotonic() + 5
        while "could not answer team T111 through response_url" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.01)
    # SafeRespond has given up: the one attempt is all there will be.
    assert [c.status for c in replies(running, "l2")] == [0]
    assert quick_log(running, "Acme: third", "third")["text"].startswith("Saved")
    command(running, "list", "l3")
    listed = answer(running, "l3")  # over a fresh connection
    assert listed["text"] == "Your recent customer voices:" and "third" in json.dumps(listed["blocks"])
    assert stories_by_team(running) == {"T111": ["first", "second", "third"]}
    assert len(replies(running, "l2")) == 1
    assert [replies(running, name) for name in ("first", "second", "third")] == [[], [], []]


def test_a_workspace_row_deleted_by_hand_is_looked_up_again_not_reused(running: RunningApp) -> None:
    assert quick_log(running, "Acme: before", "before")["text"].startswith("Saved")
    with running.db.engine.begin() as conn:
        [cached] = conn.execute(select(Workspace.id).where(Workspace.team_id == "T111")).scalars()
        conn.execute(delete(Workspace).where(Workspace.id == cached))  # its stories go with it
        # Another team's row takes the freed id where the database reuses ids (SQLite does).
        conn.execute(insert(Workspace).values(id=cached, team_id="T999", enterprise_id=""))
    assert quick_log(running, "Acme: after", "after")["text"].startswith("Saved")
    assert stories_by_team(running) == {"T111": ["after"]}  # nothing in T999's workspace
    with running.db.session() as session:
        assert queries.workspace_id(session, "T111") != cached
    assert running.services.workspaces.workspace_id("T111") != cached


def test_a_purge_keeps_the_workspace_and_its_cached_id(running: RunningApp) -> None:
    assert quick_log(running, "Acme: to be erased", "one")["text"].startswith("Saved")
    ws = running.services.workspaces.workspace_id("T111")
    report = purge_customer(running.db, ws, "Acme", lambda: None, "en")
    assert report.erased == 1 and stories_by_team(running) == {}
    assert quick_log(running, "Acme: after the purge", "two")["text"].startswith("Saved")
    assert stories_by_team(running) == {"T111": ["after the purge"]}
    with running.db.session() as session:
        assert queries.workspace_id(session, "T111") == ws
