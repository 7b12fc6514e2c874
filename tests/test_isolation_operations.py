"""Operations in two workspaces at once: the scheduled posts (in each one's channels and in a
channel both share), one workspace uninstalling and reinstalling, and the command line's export,
import and purge by `--team` (see tests/test_isolation.py for the two workspaces)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.scheduler import SlotScheduler
from bot.services import build_services
from domain.schedule import ChannelSchedule
from storage import channels, queries
from storage.db import Database
from storage.models import PostRow, utcnow
from tests.slack_spec import assert_calls_match_spec
from tests.slack_standin import SlackStandin
from tests.test_isolation import (
    CLIENT_ID,
    CLIENT_SECRET,
    GRID_USER,
    SHARED,
    TAGS,
    WORLDS,
    Team,
    World,
    assert_kept_apart,
    assert_stories_kept_apart,
    install,
    installed_world,
    log_everything,
    post_globex,
    set_schedules,
    shown,
    wait_until,
)


@pytest.fixture(params=WORLDS)
def world(request: Any, make_app: Any, standin: SlackStandin) -> Iterator[World]:
    yield from installed_world(request, make_app, standin)


# --- Scheduled posts ------------------------------------------------------------------------


def test_each_workspace_channel_gets_its_scheduled_posts_once_with_its_own_token(world: World) -> None:
    log_everything(world)
    # Slots tomorrow at 09:00 (story) and 09:30 (stand-up prompt), set through the modal in each
    # workspace's own channel and in the channel both share.
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[tomorrow.weekday()]
    set_schedules(world, weekday, shared=True)
    scheduler = world.app.services.scheduler
    assert scheduler is not None
    with world.app.db.session() as session:
        schedules = channels.list_schedules(session)
    assert len(schedules) == 8

    # One workspace's cron jobs fire first (each sweeps its own schedule), then two processes
    # sweep everything at once (the second with its own engine, as another process has), then
    # a later sweep: every slot of every workspace goes out once, the shared channel's too.
    other = build_services(world.app.settings, Database(world.app.db.url)).scheduler
    assert other is not None
    at = tomorrow + timedelta(minutes=30, seconds=5)
    seen = len(world.standin.calls)
    results: list[dict[str, str]] = []

    def sweep(scheduler: SlotScheduler, now: datetime, these: list[ChannelSchedule]) -> None:
        results.append(scheduler.sweep(these, now=now))

    first = world.teams[TAGS[0]]
    for schedule in schedules:
        if schedule.team_id == first.id:
            sweep(scheduler, at, [schedule])
    sweeps = [threading.Thread(target=sweep, args=(s, at, schedules)) for s in (scheduler, other)]
    for thread in sweeps:
        thread.start()
    for thread in sweeps:
        thread.join()
    other.db.dispose()
    sweep(scheduler, at + timedelta(minutes=1), schedules)
    assert not {"error", "failed"} & {v for r in results for v in r.values()}, results

    swept = world.standin.calls[seen:]
    for team in world:
        for channel in (team.sales, SHARED):
            sent = [c for c in swept if c.method == "chat.postMessage" and c.args["channel"] == channel]
            sent = [c for c in sent if c.team == team.id]
            assert len(sent) == 2, (team.tag, channel, len(sent))
            story, prompt = sorted(sent, key=lambda c: "Customer of the week" not in shown(c.args))
            assert "Customer of the week" in shown(story.args) and team.tag in shown(story.args)
            # The stand-up prompt's voice of the customer is this workspace's freshest story.
            assert "Voice of the customer" in shown(prompt.args) and team.tag in shown(prompt.args)
            for call in sent:
                assert call.response is not None and call.token == team.token
                assert world.standin.poster_of(channel, call.response["ts"]) == team.token
        assert {m["team"] for m in world.standin.messages[team.sales]} == {team.id}
        # The featured stories' author and colleague hear of them, from their own workspace's bot.
        dms = {c.args["channel"] for c in swept if c.method == "chat.postMessage" and c.token == team.token}
        assert dms - {team.sales, SHARED} == {team.author, team.colleague}
    # In the shared channel, each workspace's bot posted its own two, and only those.
    assert sorted(m["team"] for m in world.standin.messages[SHARED]) == sorted(2 * [t.id for t in world])
    assert_kept_apart(world)
    assert_calls_match_spec([c for c in world.standin.calls if c.method != "oauth.v2.access"])


# --- Export, import and purge, by workspace ---------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
REDACTED = "This story was removed at the customer's request."


def cli(world: World, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` as an operator runs it, against this app's database and Slack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPACT_", "DATABASE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=world.app.db.url,
        SLACK_API_URL=world.standin.base_url,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        SLACK_SIGNING_SECRET=world.app.settings.signing_secret or "",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=env, capture_output=True, timeout=60
    )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def records(world: World, team: Team) -> dict[str, list[tuple[Any, ...]]]:
    """The workspace's rows a purge could touch: stories, and the posts that carry them."""
    ws = world.workspace(team)
    with world.app.db.session() as session:
        posts = session.scalars(select(PostRow).where(PostRow.workspace_id == ws)).all()
        return {
            "stories": sorted((s.id, s.customer, s.quote) for s in queries.live_stories(session, ws)),
            "posts": sorted((p.kind, p.channel_id, p.ts, p.story_id) for p in posts),
        }


def test_export_import_and_purge_touch_only_the_named_workspace(world: World, tmp_path: Path) -> None:
    alpha, bravo = world.teams["ALPHA"], world.teams["BRAVO"]
    for team in world:
        logged = world.quick_log(team, f"{team.only}: the {team.tag} export saved a week", team.author, "q1")
        assert team.only in shown(logged) and "story_edit" in shown(logged)
        logged = world.quick_log(
            team, f"Globex: Globex's {team.tag} team closed the books early", team.author, "q2"
        )
        assert f"Globex's {team.tag} team" in shown(logged) and "story_edit" in shown(logged)
    post_globex(world)

    # Import into one workspace: a Globex of its own, and a customer only it has.
    source = tmp_path / "bravo.csv"
    source.write_text(
        "customer,quote,kind,author\n"
        f"Imported-BRAVO-only,The BRAVO import worked,praise,{GRID_USER}\n"
        f"Globex,Globex said the BRAVO import was painless,referral,{GRID_USER}\n",
        encoding="utf-8",
    )
    imported = cli(world, tmp_path, "import", str(source), "--team", bravo.id)
    assert imported.returncode == 0 and "imported 2" in imported.stdout, imported.stderr
    assert sorted(s.customer for s in world.stories(alpha)) == sorted([alpha.only, "Globex"])
    assert sorted(s.customer for s in world.stories(bravo)) == sorted(
        [bravo.only, "Globex", "Imported-BRAVO-only", "Globex"]
    )

    # Export names the workspace; without --team it refuses to guess.
    exports = {
        alpha.tag: cli(world, tmp_path, "export", "--format", "csv", "--team", alpha.id),
        bravo.tag: cli(world, tmp_path, "export", "--format", "json", "--team", bravo.id),
    }
    for team in world:
        out = exports[team.tag]
        assert out.returncode == 0, out.stderr
        assert team.only in out.stdout and team.other not in out.stdout
    assert len(list(csv.DictReader(io.StringIO(exports[alpha.tag].stdout)))) == 2
    assert len(json.loads(exports[bravo.tag].stdout)) == 4
    # No --team, or (on a grid) the org both workspaces are in: the command line will not guess.
    for team_args in [[], *([["--team", alpha.enterprise]] if alpha.enterprise else [])]:
        guess = cli(world, tmp_path, "export", *team_args)
        assert guess.returncode != 0 and "pass one of them as --team" in guess.stderr and not guess.stdout

    # Purge Globex from one workspace: its stories and its Slack messages go, the other's stay.
    before = {channel: [dict(m) for m in msgs] for channel, msgs in world.standin.messages.items()}
    bravo_records = records(world, bravo)
    assert [kind for kind, *_ in bravo_records["posts"]] == ["dm", "story"]
    purged = cli(world, tmp_path, "purge", "--customer", "globex", "--team", alpha.id)
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith(f"workspace {alpha.label}: erased 1 story of 'globex'"), purged.stdout
    assert [s.customer for s in world.stories(alpha)] == [alpha.only]
    assert sorted(s.customer for s in world.stories(bravo)) == sorted(
        [bravo.only, "Globex", "Imported-BRAVO-only", "Globex"]
    )
    updates = world.standin.calls_to("chat.update")
    assert updates and all(c.token == alpha.token for c in updates)
    assert {c.args["channel"] for c in updates} <= {alpha.sales, f"D{alpha.author}", alpha.author}
    [post] = world.standin.messages[alpha.sales]
    assert post["text"] == REDACTED and "Globex" not in json.dumps(post)
    for channel, messages in world.standin.messages.items():
        if bravo.tag in channel:
            assert messages == before[channel], channel  # untouched
    assert any("Globex" in json.dumps(m) for m in world.standin.messages[bravo.sales])
    assert records(world, bravo) == bravo_records  # its posts still carry its stories

    # In Slack, the purged workspace finds no Globex; the other still does.
    for team in world:
        world.command(team, "search Globex", team.author, "after")
    assert "No stories match" in shown(world.reply(alpha, "after"))
    assert "Globex said the BRAVO import" in shown(world.reply(bravo, "after"))
    assert_kept_apart(world)
    assert_stories_kept_apart(world)


# --- One workspace uninstalls --------------------------------------------------------------------


def test_one_workspace_uninstalling_leaves_the_other_installed_and_posting(world: World) -> None:
    alpha, bravo = world.teams["ALPHA"], world.teams["BRAVO"]
    for team in world:
        logged = world.quick_log(team, f"{team.only}: the {team.tag} export saved a week", team.author, "q1")
        assert team.only in shown(logged) and "story_edit" in shown(logged)
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    set_schedules(world, ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[tomorrow.weekday()])
    installations = world.app.services.installations
    clients = world.app.services.clients
    assert installations is not None

    # Slack tells the app it was uninstalled from one workspace (on a grid: one of the org's).
    world.event(alpha, {"type": "app_uninstalled", "event_ts": "1"})
    wait_until(lambda: clients.token_for(alpha.id, alpha.enterprise) is None)
    uninstalled = len(world.standin.attempts)
    assert clients.token_for(bravo.id, bravo.enterprise) == bravo.token
    kept = installations.find_installation(enterprise_id=bravo.enterprise or None, team_id=bravo.id)
    assert kept is not None and kept.bot_token == bravo.token

    # Its slots are skipped; the other's go out; its stories stay until an operator purges them.
    scheduler = world.app.services.scheduler
    assert scheduler is not None
    with world.app.db.session() as session:
        schedules = channels.list_schedules(session)
    scheduler.sweep(schedules, now=tomorrow + timedelta(minutes=30, seconds=5))
    world.command(bravo, "list", bravo.author, "after")
    assert bravo.only in shown(world.reply(bravo, "after"))
    after = world.standin.attempts[uninstalled:]
    assert all(c.token != alpha.token for c in after)  # no call with the uninstalled token
    assert len([c for c in after if c.method == "chat.postMessage" and c.args["channel"] == bravo.sales]) == 2
    assert not [c for c in after if c.args.get("channel") == alpha.sales]
    assert [s.customer for s in world.stories(alpha)] == [alpha.only]

    # Reinstalled through the same flow: a new token, and the next day's slots are its again.
    old_token = alpha.token
    install(world.app, alpha, "code-again")
    assert alpha.token != old_token
    scheduler.sweep(schedules, now=tomorrow + timedelta(days=7, minutes=30, seconds=5))
    again = [c for c in world.standin.calls_to("chat.postMessage") if c.args["channel"] == alpha.sales]
    assert len(again) == 2 and {c.token for c in again} == {alpha.token}
    assert_kept_apart(world)
