"""Acceptance of issue 11 ("Many workspaces and many processes"), tried as a new user would.

Two workspaces (ALPHA and BRAVO, see tests/test_isolation.py) and two real bot processes
(`python -m bot run`, OAuth mode over HTTP, LOG_FORMAT=json) on one PostgreSQL database, against
the Slack stand-in:

1. each workspace installs through a process's /slack/install and /slack/oauth_redirect, as a
   browser does;
2. both log stories with `/impact`, their requests taking turns between the two processes: each
   story is stored once, under its own workspace, and confirmed once, in the ack of its own
   request (bot.deadlines), with nothing at its response_url;
3. each workspace's manager sets a story slot in its channel with `/impact schedule`: each
   channel gets one post, made with its own workspace's token and featuring its own story;
4. ALPHA uninstalls: its next slot is skipped and no call carries its token any more, while
   BRAVO's next slot goes out;
5. every line both processes wrote is one JSON object a log shipper reads, and the lines about
   the requests and slots name their workspace (and slot).

Throughout, no call made with one workspace's token, no reply to one workspace's response_url
and no ack to one workspace's request carries anything of the other's (every text typed in a
workspace bears its tag).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import select

from domain.schedule import slot_key
from storage import queries
from storage.db import Database
from storage.models import ScheduleRow, SlotClaim
from tests import test_processes
from tests.conftest import SECRET, acked_message
from tests.signing import command_body, event_body, interactive_body, post_signed, view_submission_payload
from tests.slack_standin import Call, SlackStandin
from tests.test_isolation import (
    CLIENT_ID,
    CLIENT_SECRET,
    TAGS,
    Team,
    assert_calls_kept_apart,
    browse,
    choice,
    open_install_page,
    shown,
    text_input,
)
from tests.test_processes import DAYS, BotProcess, posts_to, wait_until

bots = test_processes.bots  # the fixture that starts real bot processes

LOGS_PER_WORKSPACE = 20
SWEEP_SECONDS = 1


# --- As the workspaces' users act --------------------------------------------------------------


def install_through(bot: BotProcess, standin: SlackStandin, team: Team, code: str) -> None:
    """Install the app in `team` through this process's install page, as a browser does."""
    cookie, state, query = open_install_page(bot.url, standin)
    # The installer approves the scopes in their workspace; Slack redirects back with a code.
    grant = standin.grant_code(
        code,
        team.id,
        team.name,
        scopes=query["scope"][0].split(","),
        installer=team.boss,
        bot_user_id=f"U0{team.tag}BOT",
    )
    status, headers, page = browse(f"{bot.url}/slack/oauth_redirect?code={code}&state={state}", cookie)
    assert status == 200 and "Thank you!" in page, page
    assert code not in standin.codes  # exchanged, once
    team.token, team.bot_user = grant.bot_token, grant.bot_user_id
    team.tokens.add(grant.bot_token)


def send(bot: BotProcess, body: str) -> str:
    """POST a body signed as Slack signs it; the answer, which must be a 200."""
    status, answer = post_signed(bot.url + "/slack/events", SECRET, body)
    assert status == 200, (bot.url, status, answer)
    return answer


def command(bot: BotProcess, standin: SlackStandin, team: Team, text: str, user: str, name: str) -> str:
    """`/impact text` typed by `user` in `team`'s sales channel; its response_url is named `name`."""
    body = command_body(
        text=text,
        user_id=user,
        team_id=team.id,
        channel_id=team.sales,
        response_url=standin.response_url(f"{team.tag}-{name}"),
        trigger_id=f"trig-{team.tag}-{name}",
    )
    return send(bot, body)


def replies(standin: SlackStandin, team: Team, name: str) -> list[Call]:
    return [c for c in standin.calls_to("response_url") if c.path == f"/respond/{team.tag}-{name}"]


def schedule_form(slot: datetime) -> dict[str, Any]:
    """The schedule modal filled in: a story on the slot's weekday at its time (UTC), no prompt."""

    def days(*picked: str) -> dict[str, Any]:
        return {"type": "checkboxes", "selected_options": [{"value": day} for day in picked]}

    state = {
        "story_days": days(DAYS[slot.weekday()]),
        "story_time": text_input(f"{slot:%H:%M}"),
        "prompt_days": days(),
        "prompt_time": text_input(""),
        "timezone": text_input("UTC"),
        "skip_dates": text_input(""),
        "tags": text_input(""),
        "language": choice(None),
    }
    return {block: {"value": element} for block, element in state.items()}


# --- What Slack and the database saw ---------------------------------------------------------------


def with_token(standin: SlackStandin, team: Team, method: str, channel: str | None = None) -> list[Call]:
    return [
        c
        for c in standin.calls_to(method)
        if c.token == team.token and (channel is None or c.args.get("channel") == channel)
    ]


def claims_of(db: Database, team: Team) -> dict[datetime, tuple[str, str]]:
    """{slot: (status, note)} of the workspace's slot claims."""
    with db.session() as s:
        ws = queries.workspace_id(s, team.id)
        rows = s.scalars(select(SlotClaim).where(SlotClaim.workspace_id == ws))
        return {c.slot_at: (c.status, c.note) for c in rows}


def customers(db: Database, team: Team) -> list[str]:
    with db.session() as s:
        return sorted(
            story.draft.customer for story in queries.live_stories(s, queries.workspace_id(s, team.id))
        )


def make_due(db: Database, slot: datetime) -> None:
    """Every story schedule now falls on `slot` and was saved an hour before it: the sweep of
    each process finds the slot due, as if the manager had set it an hour ago."""
    with db.session() as s:
        for row in s.scalars(select(ScheduleRow)):
            row.weekdays, row.time = DAYS[slot.weekday()], f"{slot:%H:%M}"
            row.created_at = slot - timedelta(hours=1)


def wait_for(found: Callable[[], list[Call]], what: str, timeout: float = 30) -> list[Call]:
    """The calls `found` returns, once there are any."""
    wait_until(lambda: bool(found()), timeout, what)
    return found()


def holds(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """`condition` stays true for `seconds` (several sweeps of every process)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), what
        time.sleep(0.2)
    assert condition(), what


def assert_kept_apart(standin: SlackStandin, teams: list[Team], acks: list[tuple[Team, str]]) -> None:
    """Every Web API call carried one workspace's token and nothing of the other workspace; every
    response_url post and every ack body (`acks`: each request's team and what the app answered)
    showed its own workspace only; each channel holds its workspace's posts."""
    checked = assert_calls_kept_apart(standin, teams)
    # At least each workspace's story posts (ALPHA's one, BRAVO's two) and schedule confirmations.
    assert checked >= 3 + 2, checked
    assert len([answer for _, answer in acks if answer]) == 2 * LOGS_PER_WORKSPACE  # the confirmations
    for team, answer in acks:
        assert team.other not in answer, answer[:400]
    for team in teams:
        for channel, messages in standin.messages.items():
            if channel == team.sales:
                assert {m["team"] for m in messages} == {team.id}, channel


def json_lines(log: Path) -> list[dict[str, Any]]:
    """The process's output as a log shipper reads it: one JSON object per line, every line."""
    lines = []
    for n, text in enumerate(log.read_text().splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            raise AssertionError(f"{log.name}:{n} is not JSON: {text[:300]}") from None
        assert isinstance(line, dict), f"{log.name}:{n}: {text[:300]}"
        assert {"time", "level", "message"} <= set(line), f"{log.name}:{n}: {text[:300]}"
        datetime.fromisoformat(line["time"])
        lines.append(line)
    return lines


# --- The acceptance test -------------------------------------------------------------------------


def test_two_workspaces_on_two_processes_install_log_post_uninstall_and_log_json(
    bots: Any, standin: SlackStandin, pg_url: str
) -> None:
    db = Database(pg_url)
    db.migrate()
    standin.oauth_app(CLIENT_ID, CLIENT_SECRET)
    alpha, bravo = teams = [Team(tag) for tag in TAGS]
    oauth = {
        "SLACK_BOT_TOKEN": "",  # OAuth mode: each workspace's token comes from its install
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "IMPACT_MANAGERS": ",".join(team.boss for team in teams),
        "IMPACT_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "LOG_FORMAT": "json",
    }
    # Process a logs at INFO, as operators run it; b at DEBUG, as when they chase a problem.
    procs = [
        bots("a", standin, pg_url, **oauth, LOG_LEVEL="INFO"),
        bots("b", standin, pg_url, **oauth, LOG_LEVEL="DEBUG"),
    ]
    for proc in procs:
        proc.wait_healthy()
    # A slot a couple of minutes ago: due now for a schedule saved before it (see make_due).
    first_slot = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)

    # 1. ALPHA installs through process a, BRAVO through process b.
    install_through(procs[0], standin, alpha, "code-alpha")
    install_through(procs[1], standin, bravo, "code-bravo")
    assert alpha.token != bravo.token

    # 2. Quick logs from both workspaces, taking turns between the processes: each confirmed in
    #    its ack, which both processes answer with the story stored.
    acks: list[tuple[Team, str]] = []  # (team, what the app answered its request)
    logged = {team.tag: [f"Acme-{team.tag}-{n:02d}" for n in range(LOGS_PER_WORKSPACE)] for team in teams}
    for n in range(LOGS_PER_WORKSPACE):
        for i, team in enumerate(teams):
            customer = logged[team.tag][n]
            text = f"{customer}: the {team.tag} rollout saved a week <@{team.colleague}>"
            answer = command(procs[(n + i) % 2], standin, team, text, team.author, f"q{n}")
            acks.append((team, answer))
            confirmation = shown(acked_message(answer))
            assert customer in confirmation and "story_edit" in confirmation, confirmation[:400]
    for team in teams:
        assert customers(db, team) == logged[team.tag]  # each once, under its own workspace

    # 3. Each manager sets a story slot in their channel: the modal opens through one process
    #    and is submitted through the other.
    for i, team in enumerate(teams):
        answer = command(procs[i], standin, team, "schedule", team.boss, "schedule")
        acks.append((team, answer))
        assert answer == ""
    for i, team in enumerate(teams):
        [opened] = wait_for(partial(with_token, standin, team, "views.open"), f"{team.tag}'s modal")
        view = opened.json_arg("view")
        assert view["callback_id"] == "schedule_modal"
        payload = view_submission_payload(
            "schedule_modal",
            schedule_form(first_slot),
            private_metadata=view["private_metadata"],
            user_id=team.boss,
            team_id=team.id,
            trigger_id=f"trig-{team.tag}-submit",
        )
        answer = send(procs[1 - i], interactive_body(payload))
        acks.append((team, answer))
        assert answer == ""  # saved, no inline errors
        [saved] = wait_for(partial(replies, standin, team, "schedule"), f"{team.tag}'s schedule saved")
        assert saved.args["text"].startswith("Saved.")
    make_due(db, first_slot)
    for team in teams:
        wait_for(partial(posts_to, standin, team.sales), f"{team.tag}'s story post")
        # The featured story's author and colleague hear of it, from their own workspace's bot.
        for person in (team.author, team.colleague):
            wait_for(partial(with_token, standin, team, "chat.postMessage", person), f"DM to {person}")
    for team in teams:
        [post] = posts_to(standin, team.sales)
        assert post.ok and post.token == team.token and post.team == team.id
        assert post.response is not None and standin.poster_of(team.sales, post.response["ts"]) == team.token
        featured = [c for c in logged[team.tag] if c in shown(post.args)]
        assert len(featured) == 1 and team.other not in shown(post.args), shown(post.args)[:400]
        assert claims_of(db, team) == {first_slot: ("posted", "")}

    # 4. ALPHA uninstalls (Slack tells one process); the next slot falls due in both workspaces.
    before = len(standin.attempts)
    event = {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"}
    body = event_body(event, team_id=alpha.id, event_id="EvGONE", bot_user_id=alpha.bot_user)
    assert send(procs[1], body) == ""  # answered 200 at once
    store = SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=db.engine)
    wait_until(lambda: store.find_bot(enterprise_id=None, team_id=alpha.id) is None, 10, "the uninstall")
    kept = store.find_bot(enterprise_id=None, team_id=bravo.id)
    assert kept is not None and kept.bot_token == bravo.token
    second_slot = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    assert second_slot > first_slot
    make_due(db, second_slot)
    wait_until(lambda: len(posts_to(standin, bravo.sales)) == 2, 30, "BRAVO's second post")
    wait_until(lambda: second_slot in claims_of(db, alpha), 30, "ALPHA's second slot to be settled")

    def stopped() -> bool:
        after = standin.attempts[before:]
        return (
            all(c.token != alpha.token for c in after)
            and len(posts_to(standin, alpha.sales)) == 1
            and len(posts_to(standin, bravo.sales)) == 2
        )

    holds(stopped, 4 * SWEEP_SECONDS + 1, "ALPHA stopped and BRAVO posted once")
    assert claims_of(db, alpha)[second_slot] == ("skipped", "the app is not installed in this workspace")
    assert claims_of(db, bravo)[second_slot] == ("posted", "")
    new = posts_to(standin, bravo.sales)[1]
    assert new.token == bravo.token and any(c in shown(new.args) for c in logged[bravo.tag])
    assert customers(db, alpha) == logged[alpha.tag]  # its stories stay until an operator purges them
    # Each quick log was confirmed once: in its ack, never again at its response_url.
    responded = {c.path for c in standin.attempts_to("response_url")}  # failed ones too
    for team in teams:
        for n in range(LOGS_PER_WORKSPACE):
            assert f"/respond/{team.tag}-q{n}" not in responded, (team.tag, n)
    assert_kept_apart(standin, teams, acks)

    # 5. What a log shipper reads: JSON lines, naming the workspace and slot they are about.
    for proc in procs:
        proc.stop()
    lines = [line for proc in procs for line in json_lines(proc.log)]
    for team in teams:
        about = [line for line in lines if line.get("team") == team.id]
        # The requests (seen at DEBUG) name their workspace, user and channel.
        assert any(line.get("user") == team.author and line.get("channel") == team.sales for line in about)
        # Each slot that went out was posted by one process, and its line says which slot.
        posted = [line["slot"] for line in about if line["message"].startswith("posted slot")]
        went_out = [first_slot] if team is alpha else [first_slot, second_slot]
        assert sorted(posted) == [slot_key(team.sales, "story", at) for at in went_out]
        assert all(team.other not in json.dumps(line) for line in about)
    [skipped] = [line for line in lines if "not installed" in line["message"]]
    assert (skipped["level"], skipped.get("team"), skipped.get("slot")) == (
        "WARNING",
        alpha.id,
        slot_key(alpha.sales, "story", second_slot),
    )
    assert any(line.get("team") == alpha.id and "app_uninstalled" in line["message"] for line in lines)
    # No log carries a token, not even slack_sdk's DEBUG lines with whole response bodies (the
    # token exchange's access_token is cut to "xoxb-…"), and no process logs the app's secret.
    assert "access_token" in procs[1].log.read_text()  # the DEBUG log does show the exchange
    assert not any(team.token in proc.log.read_text() for team in teams for proc in procs)
    assert not any(CLIENT_SECRET in proc.log.read_text() for proc in procs)
    db.dispose()
