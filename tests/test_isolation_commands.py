"""Every command, App Home, the complaint flow and the message shortcut, driven in two
workspaces at once, and requests forged with the other workspace's ids: nothing of one appears
in the other (see tests/test_isolation.py for the two workspaces and how leaks are found)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.complaints import ACTION_OWN, ACTION_RESOLVE, RESOLVE_CALLBACK
from bot.messages import t
from bot.render import ACTION_DELETE, ACTION_EDIT
from domain.complaint import RESOLVED
from storage import complaints as complaint_store
from storage import queries
from storage.models import ReactionRow
from tests.signing import interactive_body, message_action_payload
from tests.slack_spec import assert_calls_match_spec
from tests.slack_standin import Call, SlackStandin
from tests.test_isolation import (
    SHARED,
    WORLDS,
    Team,
    World,
    assert_kept_apart,
    assert_stories_kept_apart,
    buttons,
    in_org,
    installed_world,
    log_everything,
    post_globex,
    set_schedules,
    shown,
    story_state,
    text_input,
    wait_until,
)


@pytest.fixture(params=WORLDS)
def world(request: Any, make_app: Any, standin: SlackStandin) -> Iterator[World]:
    yield from installed_world(request, make_app, standin)


def ask_lists_and_insights(world: World) -> None:
    """list, search (a customer both have), references, stats and help: each its own."""
    for team in world:
        world.command(team, "list", team.author, "list")
        world.command(team, "search Globex", team.author, "search")
        world.command(team, "search Globex", team.boss, "bsearch")
        world.command(team, "references", team.author, "refs")
        world.command(team, "stats", team.boss, "stats")
        assert "/impact" in world.command(team, "help", team.author, "help")  # the ack is the help
    for team in world:
        listed = shown(world.reply(team, "list"))
        assert team.only in listed and "Globex" in listed and "Initech" in listed
        for name in ("search", "bsearch"):
            assert f"Globex's {team.tag} team" in shown(world.reply(team, name))
        refs = shown(world.reply(team, "refs"))
        assert f"Initech-{team.tag}-only" in refs and team.only not in refs
        stats = shown(world.reply(team, "stats"))
        assert t("insights.title", "en") in stats and f"-{team.tag}-only" in stats
        # Counted in this workspace only: four stories, Globex once, one open complaint.
        assert "stories logged *4*" in stats and "*Globex* · 1" in stats and "Open complaints: 1" in stats


def own_and_resolve_complaints(world: World) -> None:
    """Each complaint is posted once in its workspace's improvement channel, then owned and
    resolved there by a colleague."""
    posts: dict[str, Call] = {}
    for team in world:
        [posts[team.tag]] = world.wait_calls(team, "chat.postMessage", 1, channel=team.improve)
        assert f"Hooli-{team.tag}-only" in shown(posts[team.tag].args)
    for action, name in ((ACTION_OWN, "own"), (ACTION_RESOLVE, "resolve")):
        for team in world:
            post = posts[team.tag]
            message = {"type": "message", "ts": post.response["ts"] if post.response else "", "text": ""}
            value = buttons(post.json_arg("blocks"))[action]
            world.click(team, action, value, team.colleague, name, channel_id=team.improve, message=message)
        for team in world:
            if action == ACTION_OWN:
                world.wait_calls(team, "chat.update", 1, channel=team.improve)
    for team in world:
        view = world.opened_view(team, 5)
        assert view["callback_id"] == RESOLVE_CALLBACK
        change = {"change": text_input(f"The {team.tag} export retries now")}
        meta = view.get("private_metadata", "")
        assert world.submit(team, RESOLVE_CALLBACK, change, meta, team.colleague) is None
    for team in world:
        final = world.wait_calls(team, "chat.update", 2, channel=team.improve)[-1]
        assert f"The {team.tag} export retries now" in shown(final.args)
        ws = world.workspace(team)
        with world.app.db.session() as session:
            found = [
                complaint_store.get_complaint(session, ws, s.id) for s in queries.live_stories(session, ws)
            ]
        [(_, complaint)] = [f for f in found if f is not None]
        assert complaint.state == RESOLVED and complaint.resolved_by == team.colleague


def open_homes(world: World) -> None:
    """App Home for an author and for a manager (schedules, complaints and insights)."""
    for team in world:
        for user in (team.author, team.boss):
            world.event(team, {"type": "app_home_opened", "user": user, "tab": "home", "event_ts": "1"})
    for team in world:
        homes = {
            c.args["user_id"]: shown(c.json_arg("view")) for c in world.wait_calls(team, "views.publish", 2)
        }
        assert set(homes) == {team.author, team.boss}
        assert f"Globex's {team.tag} team" in homes[team.author]
        # The person in both workspaces sees what they did in this one only.
        mine = t("home.mine.stats", "en", stories=4, featured=1, reactions=0)
        assert json.dumps(mine, ensure_ascii=False)[1:-1] in homes[team.author]
        assert team.sales in homes[team.boss] and "stories logged *4* · featured *1*" in homes[team.boss]


def save_from_shared_channel(world: World) -> None:
    """ "Save as customer voice" on a message each workspace sees in the channel both share:
    the modal opens with its own token, and the story is saved in the workspace it came from."""
    for team in world:
        ts = world.standin.add_message(SHARED, f"The {team.tag} side said: it works", user=team.colleague)
        payload = message_action_payload(
            "save_customer_voice",
            f"The {team.tag} side said: it works",
            ts,
            channel_id=SHARED,
            user_id=team.author,
            team_id=team.id,
            trigger_id=f"trig-{team.tag}-shortcut",
            response_url=world.rurl(team, "shortcut"),
            message_user=team.colleague,
        )
        world._post(team, interactive_body(in_org(team, payload)))
    for team in world:
        view = world.opened_view(team, 6)
        assert f"The {team.tag} side said: it works" in shown(view)
        [link] = [c for c in world.calls(team, "chat.getPermalink") if c.args["channel"] == SHARED]
        assert link.response is not None and link.response["permalink"] in shown(view)  # the source
        state = story_state(team, f"Umbrella-{team.tag}-only", "praise")
        assert world.submit(team, "story_modal", state, view.get("private_metadata", ""), team.author) is None
        assert f"Umbrella-{team.tag}-only" in shown(world.reply(team, "shortcut"))
        assert f"Umbrella-{team.tag}-only" in {s.customer for s in world.stories(team)}


def test_commands_home_and_complaints_never_show_the_other_workspace(world: World) -> None:
    log_everything(world)
    ask_lists_and_insights(world)
    post_globex(world)
    set_schedules(world, "mon")
    own_and_resolve_complaints(world)
    open_homes(world)
    save_from_shared_channel(world)
    # Forged across workspaces: a user of one clicks or submits with the other's story ids.
    alpha, bravo = world.teams["ALPHA"], world.teams["BRAVO"]
    poke_across(world, alpha, bravo)
    poke_across(world, bravo, alpha)
    assert_kept_apart(world)
    assert_stories_kept_apart(world)
    assert_calls_match_spec([c for c in world.standin.calls if c.method != "oauth.v2.access"])


def poke_across(world: World, mine: Team, theirs: Team) -> None:
    """A manager of `mine` sends ids of `theirs`' stories, complaints and posts in buttons,
    modals and reactions, as a forged or confused request would: not found, nothing changes."""
    before = sorted(world.stories(theirs), key=lambda s: s.id)
    target = next(s for s in before if s.kind == "praise")
    complaint = next(s for s in before if s.kind == "complaint")
    world.click(mine, ACTION_EDIT, str(target.id), mine.boss, "x-edit")
    world.click(mine, ACTION_DELETE, str(target.id), mine.boss, "x-delete")
    world.click(mine, ACTION_OWN, str(complaint.id), mine.boss, "x-own", channel_id=mine.improve)
    world.click(mine, ACTION_RESOLVE, str(complaint.id), mine.boss, "x-resolve", channel_id=mine.improve)
    assert world.reply(mine, "x-edit")["text"] == t("not_found", "en")
    assert world.reply(mine, "x-delete")["text"] == t("not_found", "en")
    assert world.reply(mine, "x-own")["text"] == t("complaint.gone", "en")
    assert world.reply(mine, "x-resolve")["text"] == t("complaint.gone", "en")
    meta = json.dumps({"story_id": target.id, "channel": mine.sales, "response_url": world.rurl(mine, "x-m")})
    state = story_state(mine, f"Hijack-{mine.tag}-only", "praise")
    refused = world.submit(mine, "story_modal", state, meta, mine.boss)
    assert refused == {"response_action": "errors", "errors": {"customer": t("not_found", "en")}}
    change = {"change": text_input(f"{mine.tag} did it")}
    refused = world.submit(mine, RESOLVE_CALLBACK, change, json.dumps({"story_id": complaint.id}), mine.boss)
    assert refused == {"response_action": "errors", "errors": {"change": t("complaint.gone", "en")}}
    # A reaction in `mine` on `theirs`' story post is not appreciation of anything.
    [their_post] = [c for c in world.calls(theirs, "chat.postMessage") if c.args["channel"] == theirs.sales]
    assert their_post.response is not None
    item = {"type": "message", "channel": theirs.sales, "ts": their_post.response["ts"]}
    world.event(mine, {"type": "reaction_added", "user": mine.author, "reaction": "tada", "item": item})
    # ... while one on its own post counts, in its own workspace (and shows the listener ran).
    [my_post] = [c for c in world.calls(mine, "chat.postMessage") if c.args["channel"] == mine.sales]
    assert my_post.response is not None
    item = {"type": "message", "channel": mine.sales, "ts": my_post.response["ts"]}
    world.event(mine, {"type": "reaction_added", "user": mine.author, "reaction": "heart", "item": item})

    def reactions() -> list[tuple[int, str, str]]:
        with world.app.db.session() as session:
            rows = session.scalars(select(ReactionRow)).all()
            return sorted((r.workspace_id, r.channel_id, r.reaction) for r in rows)

    wait_until(lambda: (world.workspace(mine), mine.sales, "heart") in reactions())
    for ws, channel, _ in reactions():
        assert channel == (mine.sales if ws == world.workspace(mine) else theirs.sales)
    assert sorted(world.stories(theirs), key=lambda s: s.id) == before
