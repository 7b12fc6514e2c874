"""Two workspaces installed through the OAuth flow, driven side by side: nothing of one ever
appears in the other (PRODUCT.md "A story" and "Many workspaces"; issue 11, item 5).

The bot runs in OAuth mode (client id and secret, no bot token) over HTTP against the Slack
stand-in, on a SQLite file and on PostgreSQL. Each workspace has its own Slack IDs and every
text typed in it carries its tag ("ALPHA" or "BRAVO"), so a leak shows as the other tag in a
call, a reply, a view or an export. `assert_kept_apart` scans every call the stand-in recorded,
and every answer the app gave in an HTTP response (the ack): a quick log's confirmation travels
in its ack (bot.deadlines), not through the stand-in.

This module holds the two workspaces, their install and the flows the other test_isolation_*
modules share: test_isolation_commands (every command, App Home, complaints, forged ids) and
test_isolation_operations (scheduled posts, uninstall, export, import and purge).
"""

from __future__ import annotations

import html
import itertools
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from domain.story import Story
from storage import channels, queries
from storage.db import Database
from tests.conftest import RunningApp, acked_message
from tests.signing import (
    block_action_payload,
    command_body,
    event_body,
    interactive_body,
    view_submission_payload,
)
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
    quick_logs: list[tuple[Team, str]] = field(default_factory=list)  # (team, name) confirmed in an ack
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

    def quick_log(self, team: Team, text: str, user: str, name: str) -> dict[str, Any]:
        """`/impact Customer: quote`, whose confirmation comes back in the ack (bot.deadlines):
        the message the ack carried. Its response_url (named `name`) must get nothing, which
        assert_kept_apart checks."""
        confirmation = acked_message(self.command(team, text, user, name))
        self.quick_logs.append((team, name))
        return confirmation

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
    return open_install_page(app.url, app.standin)


def open_install_page(url: str, standin: SlackStandin) -> tuple[str, str, dict[str, list[str]]]:
    """Open `url`/slack/install as a browser does: (state cookie, its state, the "Add to
    Slack" link's query), checking the link goes to the stand-in's host with this app's id."""
    status, headers, page = browse(url + "/slack/install")
    assert status == 200, page
    cookie = headers["Set-Cookie"].split(";")[0]
    name, _, state = cookie.partition("=")
    assert name == "slack-app-oauth-state" and state
    [link] = re.findall(r'href="([^"]*/oauth/v2/authorize\?[^"]*)"', page)
    link = html.unescape(link)
    # The link goes to SLACK_API_URL's host with this app's client id and the same state.
    assert link.startswith(standin.base_url.removesuffix("api/") + "oauth/v2/authorize?"), link
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


WORLDS = ("sqlite", "postgresql", "grid")  # "grid": on SQLite, both workspaces in one org


def installed_world(request: Any, make_app: Any, standin: SlackStandin) -> Iterator[World]:
    """Both workspaces installed: on SQLite, on PostgreSQL, or (on SQLite) as two workspaces of
    one Enterprise Grid org, whose requests all name the same enterprise. Each module's `world`
    fixture is this one, parametrized over WORLDS."""
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


def assert_calls_kept_apart(standin: SlackStandin, teams: list[Team]) -> int:
    """Every Web API call carried one workspace's token and nothing of the other workspace;
    every response_url post showed its own workspace only. Returns how many calls were checked."""
    by_token = {token: team for team in teams for token in team.tokens}
    checked = 0
    for call in standin.attempts:
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
    return checked


def assert_kept_apart(world: World) -> None:
    """assert_calls_kept_apart, and every answer to a request (each ack's body, where a quick
    log's confirmation travels) showed its own workspace only; each quick log was confirmed
    once: in its ack, and nothing at its response_url."""
    checked = assert_calls_kept_apart(world.standin, list(world))
    for tag, answer in world.answers:
        assert (TAGS[1] if tag == TAGS[0] else TAGS[0]) not in answer, answer[:400]
    assert checked > 0
    responded = {c.path for c in world.standin.attempts_to("response_url")}  # failed ones too
    for team, name in world.quick_logs:
        assert f"/respond/{team.tag}-{name}" not in responded, (team.tag, name)


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
    standin.grant_code("c2", "T0TWO")
    token = client.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code="c2")[
        "access_token"
    ]
    intruder = WebClient(token=token, base_url=standin.base_url)
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
        confirmations = [
            world.quick_log(
                team,
                f"{team.only}: the {team.tag} export saved a week <@{team.colleague}>",
                team.author,
                "q1",
            ),
            world.quick_log(
                team, f"Globex: Globex's {team.tag} team closed the books early", team.author, "q2"
            ),
        ]
        for confirmation in confirmations:
            assert "story_edit" in shown(confirmation) and team.tag in shown(confirmation)
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
