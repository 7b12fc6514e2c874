"""Two workspaces installed through the OAuth flow, driven side by side: nothing of one ever
appears in the other (PRODUCT.md "A story" and "Many workspaces"; issue 11, item 5).

The bot runs in OAuth mode (client id and secret, no bot token) over HTTP against the Slack
stand-in, on a SQLite file and on PostgreSQL. Each workspace has its own Slack IDs and every
text typed in it carries its tag ("ALPHA" or "BRAVO"), so a leak shows as the other tag in a
call, a reply, a view or an export. `assert_kept_apart` scans every call the stand-in recorded.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from sqlalchemy import select

from bot.complaints import ACTION_OWN, ACTION_RESOLVE, RESOLVE_CALLBACK
from bot.messages import t
from bot.render import ACTION_DELETE, ACTION_EDIT
from bot.scheduler import SlotScheduler
from bot.services import build_services
from domain.complaint import RESOLVED
from domain.schedule import ChannelSchedule
from domain.story import Story
from storage import channels, queries
from storage import complaints as complaint_store
from storage.db import Database
from storage.models import PostRow, ReactionRow, utcnow
from tests.conftest import RunningApp
from tests.signing import (
    block_action_payload,
    command_body,
    event_body,
    interactive_body,
    message_action_payload,
    view_submission_payload,
)
from tests.slack_spec import assert_calls_match_spec
from tests.slack_standin import Call, SlackStandin

CLIENT_ID, CLIENT_SECRET = "4321.8765", "isolation-client-secret"
OAUTH = {"bot_token": None, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
TAGS = ("ALPHA", "BRAVO")
GRID_USER = "W0GRIDANN"  # a member of both workspaces
GRID, GRID_NAME = "E0GRID", "Grid Corp"  # the org both belong to in the "grid" runs
SHARED = "C0SHAREDWITHCLIENT"  # a Slack Connect channel both workspaces are in: one ID in both


# --- The two workspaces -------------------------------------------------------------------


@dataclass
class Team:
    """One workspace: its Slack IDs carry its tag (but for a person in both), and so does every
    text typed in it."""

    tag: str
    enterprise: str = ""  # its Enterprise Grid org, where it belongs to one
    token: str = ""  # the bot token its installation got
    tokens: set[str] = field(default_factory=set)  # every token it got (reinstalls give new ones)
    bot_user: str = ""

    @property
    def other(self) -> str:
        return TAGS[1] if self.tag == TAGS[0] else TAGS[0]

    @property
    def id(self) -> str:
        return f"T0{self.tag}"

    @property
    def label(self) -> str:
        """How the command line names it."""
        return f"{self.enterprise}/{self.id}" if self.enterprise else self.id

    @property
    def name(self) -> str:
        return f"{self.tag.title()} Inc"

    def user(self, who: str) -> str:
        return f"U0{self.tag}{who}"

    @property
    def author(self) -> str:
        """One person in both workspaces, as on an Enterprise Grid: their user ID is the same."""
        return GRID_USER

    @property
    def colleague(self) -> str:
        return self.user("BOB")

    @property
    def boss(self) -> str:
        return self.user("BOSS")

    @property
    def sales(self) -> str:
        return f"C0{self.tag}SALES"

    @property
    def improve(self) -> str:
        return f"C0{self.tag}IMPROVE"

    @property
    def only(self) -> str:
        """A customer this workspace alone knows."""
        return f"Acme-{self.tag}-only"


@dataclass
class World:
    """The app in OAuth mode with both workspaces installed, and ways to act as their users."""

    app: RunningApp
    teams: dict[str, Team]
    answers: list[tuple[str, str]] = field(default_factory=list)  # (tag, HTTP body the app answered)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def standin(self) -> SlackStandin:
        return self.app.standin

    def __iter__(self) -> Any:
        return iter(self.teams.values())

    def _post(self, team: Team, body: str) -> str:
        status, answer = self.app.post(body)
        assert status == 200, (status, answer)
        self.answers.append((team.tag, answer))
        return answer

    def rurl(self, team: Team, name: str) -> str:
        return self.standin.response_url(f"{team.tag}-{name}")

    def command(self, team: Team, text: str, user: str, name: str, channel: str = "") -> str:
        body = command_body(
            text=text,
            user_id=user,
            team_id=team.id,
            channel_id=channel or team.sales,
            response_url=self.rurl(team, name),
            trigger_id=f"trig-{team.tag}-{next(self._ids)}",
        )
        if team.enterprise:  # a grid workspace's command names its org, as Slack sends it
            fields = dict(parse_qsl(body)) | {"enterprise_id": team.enterprise, "enterprise_name": GRID_NAME}
            body = urlencode(fields)
        return self._post(team, body)

    def replies(self, team: Team, name: str) -> list[Call]:
        path = f"/respond/{team.tag}-{name}"
        return [c for c in self.standin.calls_to("response_url") if c.path == path]

    def reply(self, team: Team, name: str, count: int = 1) -> dict[str, Any]:
        wait_until(lambda: len(self.replies(team, name)) >= count)
        return self.replies(team, name)[count - 1].args

    def click(self, team: Team, action_id: str, value: str, user: str, name: str, **kw: Any) -> None:
        payload = block_action_payload(
            action_id,
            value,
            user_id=user,
            team_id=team.id,
            channel_id=kw.pop("channel_id", team.sales),
            response_url=self.rurl(team, name),
            trigger_id=f"trig-{team.tag}-{next(self._ids)}",
            **kw,
        )
        self._post(team, interactive_body(in_org(team, payload)))

    def submit(
        self, team: Team, callback_id: str, state: dict[str, Any], meta: str, user: str
    ) -> dict[str, Any] | None:
        """Submit a modal (every input's action_id is "value"); its inline errors, if any."""
        values = {block: {"value": element} for block, element in state.items()}
        payload = view_submission_payload(
            callback_id, values, private_metadata=meta, user_id=user, team_id=team.id
        )
        answer = self._post(team, interactive_body(in_org(team, payload)))
        return json.loads(answer) if answer else None

    def event(self, team: Team, event: dict[str, Any]) -> None:
        body = event_body(event, team_id=team.id, event_id=f"Ev{next(self._ids)}", bot_user_id=team.bot_user)
        if team.enterprise:
            envelope = json.loads(body)
            envelope["enterprise_id"] = envelope["authorizations"][0]["enterprise_id"] = team.enterprise
            body = json.dumps(envelope)
        self._post(team, body)

    def calls(self, team: Team, method: str) -> list[Call]:
        return [c for c in self.standin.calls_to(method) if c.token == team.token]

    def wait_calls(self, team: Team, method: str, count: int, channel: str | None = None) -> list[Call]:
        """Until `team`'s token made `count` successful calls to `method` (in `channel`)."""

        def matching() -> list[Call]:
            return [
                c for c in self.calls(team, method) if channel is None or c.args.get("channel") == channel
            ]

        wait_until(lambda: len(matching()) >= count)
        return matching()

    def posts(self, team: Team, channel: str) -> list[Call]:
        return [c for c in self.calls(team, "chat.postMessage") if c.args.get("channel") == channel]

    def opened_view(self, team: Team, count: int) -> dict[str, Any]:
        wait_until(lambda: len(self.calls(team, "views.open")) >= count)
        view: dict[str, Any] = self.calls(team, "views.open")[count - 1].json_arg("view")
        View(**view).validate_json()
        return view

    def stories(self, team: Team) -> list[Story]:
        ws = self.workspace(team)
        with self.app.db.session() as session:
            return queries.live_stories(session, ws)

    def workspace(self, team: Team) -> int:
        with self.app.db.session() as session:
            return queries.workspace_id(session, team.id, team.enterprise)


def in_org(team: Team, payload: dict[str, Any]) -> dict[str, Any]:
    """An interactive payload as Slack sends it from a grid workspace: with its enterprise."""
    if team.enterprise:
        payload["enterprise"] = {"id": team.enterprise, "name": GRID_NAME}
        payload["team"] = {**payload["team"], "enterprise_id": team.enterprise, "enterprise_name": GRID_NAME}
    return payload


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Until the app's listeners (which run after the ack) have done their part."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# --- Installing through the OAuth flow, as a browser does ----------------------------------


def browse(url: str, cookie: str = "") -> tuple[int, dict[str, str], str]:
    """GET `url` as a browser would, sending `cookie`; (status, headers, page)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def start_install(app: RunningApp) -> tuple[str, str, dict[str, list[str]]]:
    """Open /slack/install: (state cookie, its state, the "Add to Slack" link's query)."""
    status, headers, page = browse(app.url + "/slack/install")
    assert status == 200, page
    cookie = headers["Set-Cookie"].split(";")[0]
    name, _, state = cookie.partition("=")
    assert name == "slack-app-oauth-state" and state
    [link] = re.findall(r'href="([^"]*/oauth/v2/authorize\?[^"]*)"', page)
    link = html.unescape(link)
    # The link goes to SLACK_API_URL's host with this app's client id and the same state.
    assert link.startswith(app.standin.base_url.removesuffix("api/") + "oauth/v2/authorize?")
    query = parse_qs(urlsplit(link).query)
    assert query["client_id"] == [CLIENT_ID] and query["state"] == [state]
    return cookie, state, query


def install(app: RunningApp, team: Team, code: str) -> None:
    """Install the app in `team` through /slack/install and /slack/oauth_redirect."""
    cookie, state, query = start_install(app)
    # The user picks the workspace and approves the scopes; Slack redirects back with a code.
    scopes = query["scope"][0].split(",")
    grant = app.standin.grant_code(
        code,
        team.id,
        team.name,
        team.enterprise or None,
        enterprise_name=GRID_NAME,
        scopes=scopes,
        installer=team.boss,
        bot_user_id=f"U0{team.tag}BOT",
    )
    status, headers, page = browse(f"{app.url}/slack/oauth_redirect?code={code}&state={state}", cookie)
    assert status == 200 and "Thank you!" in page, page
    assert f"slack://app?team={team.id}&amp;id=A111" in page
    assert "slack-app-oauth-state=deleted" in headers.get("Set-Cookie", "")  # state spent
    assert app.services.installations is not None
    stored = app.services.installations.find_installation(
        enterprise_id=team.enterprise or None, team_id=team.id
    )
    assert stored is not None
    assert (stored.bot_token, stored.team_name, stored.bot_user_id) == (
        grant.bot_token,
        team.name,
        grant.bot_user_id,
    )
    assert sorted(stored.bot_scopes or []) == sorted(scopes) and stored.user_id == team.boss
    assert (stored.enterprise_id or "") == team.enterprise and not stored.is_enterprise_install
    assert app.services.clients.token_for(team.id, team.enterprise) == grant.bot_token
    team.token, team.bot_user = grant.bot_token, grant.bot_user_id
    team.tokens.add(grant.bot_token)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: Any) -> Any:
    """The same tests on a SQLite file and on the local PostgreSQL (skipped when it is down)."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    db = Database(url)
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "grid"])
def world(request: Any, make_app: Any, standin: SlackStandin) -> Iterator[World]:
    """Both workspaces installed: on SQLite, on PostgreSQL, and (on SQLite) as two workspaces
    of one Enterprise Grid org, whose requests all name the same enterprise."""
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url")
    db = Database(url)
    db.migrate()
    standin.oauth_app(CLIENT_ID, CLIENT_SECRET)
    app: RunningApp = make_app(
        db, **OAUTH, managers=frozenset({Team(tag).boss for tag in TAGS}), timezone="UTC"
    )
    org = GRID if request.param == "grid" else ""
    teams = {tag: Team(tag, enterprise=org) for tag in TAGS}
    for n, team in enumerate(teams.values()):
        install(app, team, f"code-{n}")
    yield World(app, teams)
    db.dispose()


# --- Nothing crosses --------------------------------------------------------------------------


def assert_kept_apart(world: World) -> None:
    """Every Web API call carried one workspace's token and nothing of the other workspace;
    every response_url post and every answer to a request showed its own workspace only."""
    by_token = {token: team for team in world for token in team.tokens}
    checked = 0
    for call in world.standin.attempts:
        sent = json.dumps(call.args, ensure_ascii=False)
        if call.method == "oauth.v2.access":
            continue  # the install itself: app credentials, no workspace data
        if call.method == "response_url":
            tag = call.path.removeprefix("/respond/").split("-")[0]
            assert tag in TAGS, call.path
            other = TAGS[1] if tag == TAGS[0] else TAGS[0]
        else:
            team = by_token.get(call.token or "")
            assert team is not None, f"{call.method} without a workspace's token: {sent[:200]}"
            assert call.team == team.id
            other = team.other
        assert other not in sent, f"{call.method} for the other workspace carried {other}: {sent[:400]}"
        checked += 1
    for tag, answer in world.answers:
        assert (TAGS[1] if tag == TAGS[0] else TAGS[0]) not in answer, answer[:400]
    assert checked > 0


def assert_stories_kept_apart(world: World) -> None:
    """Each workspace's stories carry its own tag only."""
    for team in world:
        for story in world.stories(team):
            text = json.dumps(story.draft.__dict__, default=str)
            assert team.tag in text and team.other not in text, text


# --- The stand-in's OAuth exchange ------------------------------------------------------------


def test_the_standin_exchanges_a_code_once_for_its_workspace_token(standin: SlackStandin) -> None:
    standin.oauth_app(CLIENT_ID, CLIENT_SECRET)
    grant = standin.grant_code("c1", "T0ONE", "One", scopes=["chat:write"], bot_user_id="U0ONEBOT")
    client = WebClient(base_url=standin.base_url)
    for client_id, secret, code, error in (
        ("9.9", CLIENT_SECRET, "c1", "invalid_client_id"),
        (CLIENT_ID, "wrong", "c1", "bad_client_secret"),
        (CLIENT_ID, CLIENT_SECRET, "nope", "invalid_code"),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.oauth_v2_access(client_id=client_id, client_secret=secret, code=code)
        assert refused.value.response["error"] == error
    answer = client.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code="c1")
    assert answer["access_token"] == grant.bot_token and answer["token_type"] == "bot"
    assert answer["team"] == {"id": "T0ONE", "name": "One"} and answer["enterprise"] is None
    assert (answer["bot_user_id"], answer["scope"], answer["authed_user"]) == (
        "U0ONEBOT",
        "chat:write",
        {"id": "UINSTALLER"},
    )
    # A code is good once; the client id and secret may also come as form fields.
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": "c1"}
    with pytest.raises(SlackApiError) as refused:
        client.api_call("oauth.v2.access", data=form)
    assert refused.value.response["error"] == "invalid_code"
    # Each token is its own workspace's; one the stand-in never issued keeps the default.
    mine = WebClient(token=grant.bot_token, base_url=standin.base_url)
    who = mine.auth_test()
    assert (who["team_id"], who["user_id"]) == ("T0ONE", "U0ONEBOT")
    assert who.headers["x-oauth-scopes"] == "chat:write"
    assert WebClient(token="xoxb-other", base_url=standin.base_url).auth_test()["team_id"] == "T111"
    posted = mine.chat_postMessage(channel="C0ONE", text="hi")
    assert (
        posted["message"]["team"] == "T0ONE" and standin.poster_of("C0ONE", posted["ts"]) == grant.bot_token
    )
    assert standin.calls_to("chat.postMessage")[0].team == "T0ONE"
    # Another workspace's bot may not change that message.
    other = standin.grant_code("c2", "T0TWO")
    standin.codes.pop("c2")
    standin.grants[other.bot_token] = other
    intruder = WebClient(token=other.bot_token, base_url=standin.base_url)
    with pytest.raises(SlackApiError) as refused:
        intruder.chat_update(channel="C0ONE", ts=posted["ts"], text="mine now")
    assert refused.value.response["error"] == "cant_update_message"
    assert standin.messages["C0ONE"][0]["text"] == "hi"


# --- Installing ---------------------------------------------------------------------------------


def test_two_workspaces_install_through_the_oauth_flow_and_bad_redirects_store_nothing(
    make_app: Any, database: Database, standin: SlackStandin
) -> None:
    standin.oauth_app(CLIENT_ID, CLIENT_SECRET)
    app: RunningApp = make_app(database, **OAUTH)
    alpha, bravo = Team("ALPHA"), Team("BRAVO")
    install(app, alpha, "code-alpha")
    install(app, bravo, "code-bravo")
    assert alpha.token != bravo.token
    assert app.services.clients.token_for(alpha.id) == alpha.token
    assert app.services.clients.token_for(bravo.id) == bravo.token

    # A redirect without the browser's state cookie, a reused code, an unknown one: refused.
    standin.grant_code("code-charlie", "T0CHARLIE")
    _, state, _ = start_install(app)
    status, _, page = browse(f"{app.url}/slack/oauth_redirect?code=code-charlie&state={state}")
    assert status == 400 and "code-charlie" in standin.codes  # never exchanged
    for code in ("code-alpha", "code-unknown"):
        cookie, state, _ = start_install(app)
        status, _, page = browse(f"{app.url}/slack/oauth_redirect?code={code}&state={state}", cookie)
        assert status == 401 and "Thank you!" not in page
    refused = [c.error for c in standin.attempts_to("oauth.v2.access") if not c.ok]
    assert refused == ["invalid_code", "invalid_code"]
    assert app.services.clients.token_for("T0CHARLIE") is None
    assert app.services.clients.token_for(alpha.id) == alpha.token  # a reused code changes nothing
    # The only calls with a bot token were the installs' own auth.test, one per workspace.
    assert sorted(c.team or "" for c in standin.calls if c.method == "auth.test") == [alpha.id, bravo.id]


# --- Every command, App Home and the complaint flow, in both at once -------------------------


def text_input(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def choice(value: str | None) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value} if value else None}


def story_state(team: Team, customer: str, kind: str, consent: str = "internal") -> dict[str, Any]:
    """The story modal as a user of `team` fills it in."""
    return {
        "customer": text_input(customer),
        "quote": text_input(f"{customer} told us: the {team.tag} rollout saved our quarter"),
        "contact": text_input(f"Head of Finance ({team.tag})"),
        "impact": text_input(f"Books closed in two days ({team.tag})"),
        "kind": choice(kind),
        "tags": text_input(f"{team.tag.lower()}-tag"),
        "credited": {"type": "multi_users_select", "selected_users": [team.colleague]},
        "consent": choice(consent),
        "source": {"type": "url_text_input", "value": f"https://example.com/{team.tag}"},
    }


def schedule_state(weekday: str) -> dict[str, Any]:
    """A story slot at 09:00 and a stand-up prompt at 09:30, on `weekday`, in UTC."""

    def days(day: str) -> dict[str, Any]:
        return {"type": "checkboxes", "selected_options": [{"value": day}]}

    return {
        "story_days": days(weekday),
        "story_time": text_input("09:00"),
        "prompt_days": days(weekday),
        "prompt_time": text_input("09:30"),
        "timezone": text_input("UTC"),
        "skip_dates": text_input(""),
        "tags": text_input(""),
        "language": choice(None),
    }


def buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """{action_id: value} of the buttons in some blocks."""
    return {
        e["action_id"]: e.get("value", "")
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("type") == "button"
    }


def shown(reply: dict[str, Any]) -> str:
    return json.dumps(reply, ensure_ascii=False)


def log_everything(world: World) -> None:
    """In each workspace: settings with an improvement channel and a custom prompt, two quick
    logs (one of a customer both workspaces have), a referral and a complaint by the modal."""
    for team in world:
        world.command(team, "settings", team.boss, "settings")
        view = world.opened_view(team, 1)
        assert view["callback_id"] == "settings_modal"
        state = {
            "prompts": text_input(f"Which {team.tag} customer will notice today's work?"),
            "language": choice(None),
            "improvement_channel": {"type": "conversations_select", "selected_conversation": team.improve},
        }
        assert (
            world.submit(team, "settings_modal", state, view.get("private_metadata", ""), team.boss) is None
        )
    for team in world:
        world.command(
            team, f"{team.only}: the {team.tag} export saved a week <@{team.colleague}>", team.author, "q1"
        )
        world.command(team, f"Globex: Globex's {team.tag} team closed the books early", team.author, "q2")
    for team in world:
        for name in ("q1", "q2"):
            reply = world.reply(team, name)
            assert "story_edit" in shown(reply) and team.tag in shown(reply)
    for n, (kind, consent) in enumerate((("referral", "public"), ("complaint", "internal")), 2):
        for team in world:
            world.command(team, "", team.author, f"modal{kind}")
            view = world.opened_view(team, n)
            assert view["callback_id"] == "story_modal"
            customer = f"{'Initech' if kind == 'referral' else 'Hooli'}-{team.tag}-only"
            state = story_state(team, customer, kind, consent)
            assert (
                world.submit(team, "story_modal", state, view.get("private_metadata", ""), team.author)
                is None
            )
        for team in world:
            assert "Hooli" in shown(world.reply(team, f"modal{kind}")) or kind == "referral"
    for team in world:
        assert sorted(s.kind for s in world.stories(team)) == ["complaint", "praise", "praise", "referral"]
    assert_stories_kept_apart(world)


def post_globex(world: World) -> None:
    """`/impact story Globex` and Post, by each workspace's manager: its own Globex goes out in
    its own channel, and its author hears of it."""
    for team in world:
        world.command(team, "story Globex", team.boss, "preview")
    for team in world:
        preview = world.reply(team, "preview")
        assert f"Globex's {team.tag} team" in shown(preview)
        value = buttons(preview["blocks"])["preview_post"]
        world.click(team, "preview_post", value, team.boss, "post", block_id="preview_actions")
    for team in world:
        assert world.reply(team, "post")["text"].startswith(f"Posted in <#{team.sales}>")
        [post] = world.posts(team, team.sales)
        assert f"Globex's {team.tag} team" in shown(post.args)
        world.wait_calls(team, "chat.postMessage", 1, channel=team.author)  # closing the loop


def set_schedules(world: World, weekday: str, shared: bool = False) -> None:
    """`/impact schedule` in each workspace's sales channel (and in the channel they share),
    saved by its manager."""
    for n, channel in enumerate([None, *([SHARED] if shared else [])]):
        opened = {team.tag: len(world.calls(team, "views.open")) for team in world}
        for team in world:
            world.command(team, "schedule", team.boss, f"schedule{n}", channel=channel or team.sales)
        for team in world:
            view = world.opened_view(team, opened[team.tag] + 1)
            assert view["callback_id"] == "schedule_modal"
            meta = view.get("private_metadata", "")
            assert world.submit(team, "schedule_modal", schedule_state(weekday), meta, team.boss) is None
            assert world.reply(team, f"schedule{n}")["text"].startswith("Saved. This channel's schedule")
    for team in world:
        with world.app.db.session() as session:
            saved = channels.list_schedules(session, world.workspace(team))
        kinds = sorted((s.channel_id, s.spec.kind) for s in saved)
        places = sorted([team.sales, *([SHARED] if shared else [])])
        assert kinds == [(channel, kind) for channel in places for kind in ("prompt", "story")]


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
        world.command(team, f"{team.only}: the {team.tag} export saved a week", team.author, "q1")
        world.command(team, f"Globex: Globex's {team.tag} team closed the books early", team.author, "q2")
    for team in world:
        world.reply(team, "q1")
        world.reply(team, "q2")
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
        world.command(team, f"{team.only}: the {team.tag} export saved a week", team.author, "q1")
        world.reply(team, "q1")
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
