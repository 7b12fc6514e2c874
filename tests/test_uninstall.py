"""Many workspaces in OAuth mode: uninstall and revoked tokens stop a workspace, not the others."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import timedelta
from typing import Any

from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import select

from domain.schedule import ScheduleSpec
from domain.story import Draft
from storage import channels, queries
from storage.db import Database
from storage.models import ScheduleRow, SlotClaim
from tests.conftest import RunningApp, acked_message
from tests.signing import event_body
from tests.test_slots import MONDAY_9

OAUTH = {"bot_token": None, "client_id": "1234.5678", "client_secret": "oauth-secret"}


def install(app: RunningApp, team: str) -> None:
    assert app.services.installations is not None
    app.services.installations.save(
        Installation(
            app_id="A111",
            bot_id=f"B{team}",
            bot_user_id=f"UB{team}",
            user_id="UINSTALLER",
            team_id=team,
            bot_token=f"xoxb-of-{team}",
            bot_scopes=["chat:write"],
        )
    )


def schedule_story(db: Database, team: str, channel: str) -> None:
    with db.session() as s:
        ws = queries.workspace_id(s, team)
        queries.add_story(s, ws, Draft(customer=f"Customer of {team}", quote="It works"), "U0AUTH")
        channels.set_channel_schedules(s, ws, channel, [ScheduleSpec("story", ("mon",), "09:00", "UTC")])
    with db.session() as s:
        for row in s.scalars(select(ScheduleRow)):
            row.created_at = MONDAY_9 - timedelta(hours=1)


def sweep(app: RunningApp, at: Any) -> dict[str, str]:
    assert app.services.scheduler is not None
    with app.db.session() as s:
        return app.services.scheduler.sweep(channels.list_schedules(s), now=at)


def posts(app: RunningApp, channel: str) -> list[Any]:
    return [c for c in app.standin.attempts_to("chat.postMessage") if c.args.get("channel") == channel]


def test_install_link_follows_slack_api_url(make_app: Any, db: Database) -> None:
    app: RunningApp = make_app(db, **OAUTH)
    with urllib.request.urlopen(app.url + "/slack/install", timeout=5) as resp:
        page = resp.read().decode()
    host = app.standin.base_url.removesuffix("/api/")
    assert f"{host}/oauth/v2/authorize?" in page and "slack.com/oauth" not in page


def test_uninstalled_workspace_stops_others_go_on_and_reinstall_resumes(make_app: Any, db: Database) -> None:
    app: RunningApp = make_app(db, **OAUTH)
    install(app, "T1")
    install(app, "T2")
    schedule_story(db, "T1", "C1")
    schedule_story(db, "T2", "C2")
    # Slack tells the app it was uninstalled from T1: answered 200, installation gone.
    status, _ = app.post(
        event_body({"type": "app_uninstalled", "event_ts": "1"}, team_id="T1", event_id="Ev9")
    )
    assert status == 200
    # Bolt acks an event before its listener runs: wait for the listener, not the answer.
    deadline = time.monotonic() + 5
    while app.services.clients.token_for("T1") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert app.services.clients.token_for("T1") is None and app.services.clients.token_for("T2")

    results = sweep(app, MONDAY_9 + timedelta(seconds=5))
    assert sorted(results.values()) == ["posted", "skipped"]
    assert posts(app, "C1") == [] and len(posts(app, "C2")) == 1
    assert all(c.token != "xoxb-of-T1" for c in app.standin.attempts)  # no call with its token
    # The stories stay until an operator purges them.
    with db.session() as s:
        assert queries.live_stories(s, queries.workspace_id(s, "T1"))

    # Reinstalled: the next Monday's slot posts again.
    install(app, "T1")
    sweep(app, MONDAY_9 + timedelta(days=7, seconds=5))
    assert len(posts(app, "C1")) == 1 and posts(app, "C1")[0].token == "xoxb-of-T1"


def test_a_revoked_token_fails_the_slot_once_and_it_is_not_retried(make_app: Any, db: Database) -> None:
    app: RunningApp = make_app(db, **OAUTH)
    install(app, "T1")
    schedule_story(db, "T1", "C1")
    app.standin.error("chat.postMessage", "token_revoked")
    assert list(sweep(app, MONDAY_9 + timedelta(seconds=5)).values()) == ["failed"]
    sweep(app, MONDAY_9 + timedelta(minutes=1))
    sweep(app, MONDAY_9 + timedelta(minutes=2))
    assert len(posts(app, "C1")) == 1
    with db.session() as s:
        [claim] = s.scalars(select(SlotClaim))
    assert (claim.status, claim.note) == ("failed", "token_revoked")


def test_events_the_bot_does_not_act_on_are_answered_200(running: RunningApp) -> None:
    for n, kind in enumerate(("member_joined_channel", "channel_rename", "app_mention", "something_new")):
        status, _ = running.post(event_body({"type": kind, "event_ts": "1"}, event_id=f"Ev{n}"))
        assert status == 200, kind
    body = json.dumps({"type": "event_callback", "team_id": "T111", "event": {"type": "app_uninstalled"}})
    assert running.post(body)[0] == 200


def test_auth_test_is_asked_once_per_token_and_an_uninstall_still_refuses_at_once(
    make_app: Any, db: Database
) -> None:
    from tests.signing import command_body

    app: RunningApp = make_app(db, **OAUTH)
    install(app, "T1")
    for n in range(3):
        body = command_body(
            text=f"Acme {n}: It works", team_id="T1", response_url=app.standin.response_url(f"r{n}")
        )
        status, acked = app.post(body)
        assert status == 200
        # Stored and confirmed in the ack, with the workspace's token authorized.
        assert acked_message(acked)["text"].startswith("Saved")
        assert f"Acme {n}" in json.dumps(acked_message(acked)["blocks"])
    # Bolt's authorize asked Slack who the token is once, not before every ack.
    assert len([c for c in app.standin.calls_to("auth.test") if c.token == "xoxb-of-T1"]) == 1
    with db.session() as s:
        assert len(queries.live_stories(s, queries.workspace_id(s, "T1"))) == 3
    # Uninstalled: the installation is gone, so the next request finds no token, cache or not.
    app.post(event_body({"type": "app_uninstalled", "event_ts": "1"}, team_id="T1", event_id="Ev1"))
    deadline = time.monotonic() + 5
    while app.services.clients.token_for("T1") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    calls_before = len(app.standin.attempts)
    app.post(
        command_body(
            text="Acme late: still here?", team_id="T1", response_url=app.standin.response_url("late")
        )
    )
    with db.session() as s:
        assert len(queries.live_stories(s, queries.workspace_id(s, "T1"))) == 3
    assert all(c.token != "xoxb-of-T1" for c in app.standin.attempts[calls_before:])
