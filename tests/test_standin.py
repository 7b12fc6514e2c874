"""Tests of the test infrastructure: Slack stand-in, spec checker and request signing."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests import signing
from tests.slack_spec import assert_calls_match_spec, check_call
from tests.slack_standin import Call, SlackStandin

SECRET = "shh-secret"


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as s:
        yield s


@pytest.fixture
def client(standin: SlackStandin) -> WebClient:
    # no default retry handlers: each test decides what retrying it wants
    return WebClient(token="xoxb-test", base_url=standin.base_url, retry_handlers=[])


def test_answers_and_records(standin: SlackStandin, client: WebClient) -> None:
    assert client.auth_test()["user_id"] == "UBOT"
    meta = {"event_type": "impact_quote", "event_payload": {"id": 7}}
    first = client.chat_postMessage(channel="C1", text="one", metadata=meta)
    second = client.chat_postMessage(channel="C1", text="two")
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["metadata"] == meta

    hist = client.conversations_history(channel="C1", include_all_metadata=True)
    assert [m["text"] for m in hist["messages"]] == ["two", "one"]
    assert hist["messages"][1]["metadata"] == meta
    plain = client.conversations_history(channel="C1", oldest=first["ts"], limit=5)
    assert [m["text"] for m in plain["messages"]] == ["two"]

    link = client.chat_getPermalink(channel="C1", message_ts=first["ts"])["permalink"]
    assert link == f"https://example.slack.com/archives/C1/p{first['ts'].replace('.', '')}"

    post = standin.calls_to("chat.postMessage")[0]
    assert post.token == "xoxb-test"
    assert post.json_arg("metadata") == meta
    assert_calls_match_spec(standin.calls)


def test_form_and_json_bodies_and_config(standin: SlackStandin, client: WebClient) -> None:
    standin.users["U9"] = {"is_admin": True, "locale": "fr-FR"}
    standin.usergroup_users["S1"] = ["U1", "U2"]
    standin.scopes = "chat:write,commands"
    user = client.users_info(user="U9")
    assert user["user"]["is_admin"] is True and user["user"]["locale"] == "fr-FR"
    assert client.users_info(user="U1")["user"]["is_owner"] is False
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    assert client.auth_test().headers["x-oauth-scopes"] == "chat:write,commands"
    # views.open goes as JSON; api_call with data= goes form-encoded with view as a string
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []}
    opened = client.views_open(trigger_id="t1", view=view)
    assert opened["view"]["id"].startswith("V")
    client.api_call("views.update", data={"view_id": opened["view"]["id"], "view": json.dumps(view)})
    calls = standin.calls_to("views.open") + standin.calls_to("views.update")
    assert [c.json_arg("view") for c in calls] == [view, view]
    assert isinstance(calls[1].args["view"], str)
    dm = client.conversations_open(users="U1")["channel"]["id"]
    assert client.chat_postMessage(channel="U1", text="psst")["channel"] == dm == "DU1"
    assert client.conversations_history(channel=dm)["messages"][0]["text"] == "psst"
    with pytest.raises(SlackApiError) as err:
        client.api_call("no.such.method")
    assert err.value.response["error"] == "unknown_method"


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    # the rate-limit handler sleeps Retry-After + random(); drop the random part
    monkeypatch.setattr(builtin_handlers, "random", types.SimpleNamespace(random=lambda: 0.0))


@pytest.mark.usefixtures("no_jitter")
def test_rate_limited_twice_then_success(standin: SlackStandin) -> None:
    standin.fail("chat.postMessage", status=429, times=2, retry_after=0)
    client = WebClient(
        base_url=standin.base_url,
        token="xoxb-test",
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    client.chat_postMessage(channel="C1", text="hi")
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert [a.status for a in standin.attempts_to("chat.postMessage")] == [429, 429, 200]
    assert standin.attempts[0].response == {"ok": False, "error": "ratelimited"}


def test_rate_limit_gives_up(standin: SlackStandin, client: WebClient) -> None:
    standin.fail("chat.postMessage", status=429, times=None)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="hi")
    assert standin.calls == [] and standin.messages == {}


def test_server_error_once(standin: SlackStandin) -> None:
    standin.fail("chat.update", status=500, times=1)
    handler = ServerErrorRetryHandler(
        max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
    )
    client = WebClient(base_url=standin.base_url, token="xoxb-t", retry_handlers=[handler])
    client.chat_update(channel="C1", ts="1.0", text="new")
    assert len(standin.calls_to("chat.update")) == 1
    assert len(standin.attempts_to("chat.update")) == 2


def test_error_rule_per_channel(standin: SlackStandin, client: WebClient) -> None:
    standin.error("chat.postMessage", "not_in_channel", channel="C9")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C9", text="x")
    assert err.value.response["error"] == "not_in_channel"
    client.chat_postMessage(channel="C1", text="y")
    assert [c.args["channel"] for c in standin.calls_to("chat.postMessage")] == ["C1"]
    assert client.conversations_history(channel="C9")["messages"] == []
    standin.error("users.info", "user_not_found", times=1)
    with pytest.raises(SlackApiError):
        client.users_info(user="U1")
    assert client.users_info(user="U1")["ok"]


def test_delay_lets_client_time_out_after_effect(standin: SlackStandin) -> None:
    standin.delay("chat.postMessage", 2)
    # WebClient is typed for int seconds but passes the float to urllib unchanged
    client = WebClient(
        base_url=standin.base_url,
        token="xoxb-t",
        timeout=0.2,  # type: ignore[arg-type]
        retry_handlers=[],
    )
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel="C1", text="slow")
    assert len(standin.calls_to("chat.postMessage")) == 1  # recorded before the sleep


def test_response_url(standin: SlackStandin) -> None:
    resp = WebhookClient(standin.response_url("cmd1")).send(text="done", response_type="ephemeral")
    assert resp.status_code == 200 and resp.body == "ok"
    call = standin.wait_for("response_url")[0]
    assert call.path == "/respond/cmd1" and call.args["text"] == "done"
    assert check_call(call) == []


def test_spec_checker() -> None:
    good = Call("chat.postMessage", {"channel": "C1", "text": "hi"}, {}, 0.0)
    assert check_call(good) == []
    unknown = Call("chat.teleport", {}, {}, 0.0)
    missing = Call("chat.postMessage", {"text": "hi"}, {}, 0.0)
    assert "not in" in check_call(unknown)[0]
    assert check_call(missing) == ["chat.postMessage: required argument 'channel' missing"]
    assert check_call(Call("views.open", {"view": "{}"}, {}, 0.0)) == [
        "views.open: required argument 'trigger_id' missing"
    ]
    with pytest.raises(AssertionError, match="chat.teleport"):
        assert_calls_match_spec([good, unknown, missing])


def test_signatures() -> None:
    class FrozenClock(Clock):
        def now(self) -> float:
            return 1_700_000_010.0

    verifier = SignatureVerifier(SECRET, clock=FrozenClock())
    body = signing.command_body(text="hello world", locale="de-DE")
    headers = signing.signed_headers(SECRET, body, timestamp=1_700_000_000)
    ts, sig = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert sig.startswith("v0=")
    assert verifier.is_valid(body=body, timestamp=ts, signature=sig)
    assert not verifier.is_valid(body=body + "x", timestamp=ts, signature=sig)
    fields = parse_qs(body)
    assert fields["text"] == ["hello world"] and fields["is_enterprise_install"] == ["false"]
    stale = signing.signed_headers(SECRET, body, timestamp=1_699_000_000)
    assert not verifier.is_valid_request(body, stale)
    assert SignatureVerifier(SECRET).is_valid_request(body, signing.signed_headers(SECRET, body))
    payload = signing.view_submission_payload("cb", {"b": {"a": "typed"}})
    inner = json.loads(parse_qs(signing.interactive_body(payload))["payload"][0])
    assert inner["view"]["state"]["values"]["b"]["a"]["value"] == "typed"
    assert json.loads(signing.event_body({"type": "app_mention"}))["type"] == "event_callback"


def test_bolt_app_round_trip(standin: SlackStandin) -> None:
    app = App(
        client=WebClient(token="xoxb-test", base_url=standin.base_url),
        signing_secret=SECRET,
    )

    @app.command("/impact")
    def impact(ack, respond, client, command) -> None:
        ack()
        client.chat_postMessage(channel=command["channel_id"], text=command["text"])
        respond("posted")

    @app.action("go")
    def go(ack, body) -> None:
        ack()

    body = signing.command_body(text="quote", response_url=standin.response_url("c"))
    resp = app.dispatch(BoltRequest(body=body, headers=signing.signed_headers(SECRET, body)))
    assert resp.status == 200
    assert standin.wait_for("response_url")[0].args["text"] == "posted"
    assert standin.calls_to("chat.postMessage")[0].args["text"] == "quote"
    action = signing.interactive_body(signing.block_action_payload("go", "v"))
    ok = app.dispatch(BoltRequest(body=action, headers=signing.signed_headers(SECRET, action)))
    assert ok.status == 200
    forged = signing.signed_headers("wrong", body)
    assert app.dispatch(BoltRequest(body=body, headers=forged)).status == 401
    assert_calls_match_spec(standin.calls)


def test_standalone_main() -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.slack_standin", "--port", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/")
        WebClient(token="xoxb-t", base_url=base_url).auth_test()
        assert "auth.test" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_concurrent_posts_get_unique_ts(standin: SlackStandin, client: WebClient) -> None:
    def post_many(n: int) -> list[str]:
        return [client.chat_postMessage(channel="C1", text=f"{n}-{i}")["ts"] for i in range(10)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        stamps = [ts for batch in pool.map(post_many, range(16)) for ts in batch]
    assert len(set(stamps)) == 160 == len(standin.calls_to("chat.postMessage"))
    history = client.conversations_history(channel="C1", limit=200)["messages"]
    assert [m["ts"] for m in history] == sorted(stamps, key=float, reverse=True)
