"""The path to the ack: the signature is checked once, by the request guard (Bolt's own check
is off), and a forged, stale or unsigned request over HTTP is still refused with 401 before any
listener runs; Socket Mode requests, which carry no signature, are served as before; and HTTP
mode serves with the objects of start-up kept out of full garbage collections."""

from __future__ import annotations

import gc
import json
import time
from urllib.parse import parse_qsl

import pytest
from slack_bolt.middleware.request_verification import RequestVerification
from slack_bolt.request import BoltRequest
from sqlalchemy import func, select

from bot.app import create_app
from bot.server import serve
from storage.models import StoryRow
from tests.conftest import RunningApp, acked_message
from tests.signing import command_body, post


def stored(app: RunningApp) -> int:
    with app.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(StoryRow)) or 0)


def test_bolt_does_not_verify_the_signature_a_second_time(running: RunningApp) -> None:
    app = create_app(running.services)
    assert not [m for m in app._middleware_list if isinstance(m, RequestVerification)]


def test_forged_stale_and_unsigned_quick_logs_get_401_over_http_and_run_nothing(running: RunningApp) -> None:
    body = command_body(text="Acme: forged quote", response_url=running.standin.response_url("forged"))
    assert running.post(body, secret="not-the-signing-secret")[0] == 401
    assert running.post(body, timestamp=int(time.time()) - 600)[0] == 401
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": "1"}
    assert post(running.url + "/slack/events", body, headers)[0] == 401  # signed in 1970, not at all
    unsigned = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(int(time.time())),
    }
    assert post(running.url + "/slack/events", body, unsigned)[0] == 401

    signed = command_body(text="Acme: a real quote", response_url=running.standin.response_url("real"))
    status, acked = running.post(signed)
    assert status == 200
    # The signed one was stored and confirmed in its ack; no listener ran for the others.
    assert acked_message(acked)["text"].startswith("Saved")
    assert "a real quote" in json.dumps(acked_message(acked)["blocks"])
    assert stored(running) == 1
    assert running.standin.attempts_to("response_url") == []


def test_a_socket_mode_request_is_still_served(running: RunningApp) -> None:
    app = create_app(running.services)
    body = command_body(text="Acme: said over Socket Mode", response_url=running.standin.response_url("sm"))
    payload = dict(parse_qsl(body, keep_blank_values=True))
    response = app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
    assert response.status == 200
    # Stored, and confirmed in the payload of the envelope's ack.
    confirmation = acked_message(response.body)
    assert confirmation["text"].startswith("Saved")
    assert "said over Socket Mode" in json.dumps(confirmation["blocks"])
    assert stored(running) == 1
    assert running.standin.attempts_to("response_url") == []


def test_http_mode_serves_with_the_objects_of_start_up_frozen(
    running: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full garbage collections no longer walk Bolt, SQLAlchemy and the app on every pass."""
    import waitress

    frozen: list[int] = []

    class Server:
        """waitress's server, as far as serve() uses it: records the freeze when it would run."""

        def run(self) -> None:
            frozen.append(gc.get_freeze_count())

        def close(self) -> None:
            pass

    monkeypatch.setattr(waitress, "create_server", lambda *args, **kwargs: Server())
    try:
        serve(create_app(running.services), running.db, "127.0.0.1", 0)
    finally:
        gc.unfreeze()
    assert frozen and frozen[0] > 1000


def test_the_bare_app_of_the_benchmark_has_the_bots_listener_threads() -> None:
    from bench import bare_app
    from bot.app import LISTENER_THREADS

    assert bare_app.LISTENER_THREADS == LISTENER_THREADS
