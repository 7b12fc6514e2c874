"""Complaint listeners called directly with Mock(Ack)-style fakes: the order of ack, confirmation
and post, and what happens when Slack or the payload misbehaves."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import Mock

import pytest
from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.complaints import complaint_saved
from bot.services import Services, build_services
from bot.settings import Settings
from domain.story import Draft
from handlers.complaints import open_resolve, save_resolution, take_ownership
from handlers.context import Request
from handlers.views import save_from_modal
from storage import complaints as store
from storage import queries
from storage.db import Database

IMPROVE = "C0IMP"


@pytest.fixture
def services(db: Database) -> Services:
    settings = Settings(
        bot_token="xoxb-test", signing_secret="s", database_url=db.url, managers=frozenset({"UBOSS"})
    )
    return build_services(settings, db, with_scheduler=False)


def request_for(services: Services, user: str = "U0REP") -> Request:
    return Request("T111", "", user, "en", services.db)


def context_for(services: Services, user: str = "U0REP") -> BoltContext:
    return BoltContext({"impact_request": request_for(services, user)})


def posting_client() -> Mock:
    client = Mock(spec=WebClient)
    client.chat_postMessage.return_value = {"ok": True, "channel": IMPROVE, "ts": "1700000000.000100"}
    return client


def workspace(services: Services, channel: str | None = IMPROVE) -> int:
    with services.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        store.set_improvement_channel(session, ws, channel)
    return ws


def complaint_view() -> dict[str, Any]:
    def select(value: str) -> dict[str, Any]:
        return {"value": {"type": "static_select", "selected_option": {"value": value}}}

    values = {
        "customer": {"value": {"type": "plain_text_input", "value": "Acme"}},
        "quote": {"value": {"type": "plain_text_input", "value": "It broke"}},
        "kind": select("complaint"),
        "consent": select("internal"),
    }
    meta = {"story_id": None, "channel": "C1", "response_url": ""}
    return {"state": {"values": values}, "private_metadata": json.dumps(meta)}


def test_modal_complaint_is_acked_then_confirmed_then_posted(services: Services) -> None:
    workspace(services)
    ack, client = Mock(spec=Ack), posting_client()
    order: list[str] = []
    ack.side_effect = lambda *a, **k: order.append("ack")
    client.chat_postEphemeral.side_effect = lambda **k: order.append("confirm")
    client.chat_postMessage.side_effect = lambda **k: (
        order.append(f"post {k['channel']}") or {"ok": True, "ts": "1700000000.000100"}
    )
    save_from_modal(services, ack, complaint_view(), client, context_for(services))
    assert order == ["ack", "confirm", f"post {IMPROVE}"]
    ack.assert_called_once_with()


def test_a_failing_slack_never_reaches_the_author_and_the_complaint_waits(services: Services) -> None:
    ws = workspace(services)
    ack, client = Mock(spec=Ack), posting_client()
    client.chat_postMessage.side_effect = RuntimeError("boom")
    save_from_modal(services, ack, complaint_view(), client, context_for(services))
    ack.assert_called_once_with()
    with services.db.session() as session:
        [waiting] = store.open_complaints(session, ws)
        assert not waiting.complaint.posted and waiting.complaint.tracked


def test_praise_is_never_posted_to_the_improvement_channel(services: Services) -> None:
    ws = workspace(services)
    with services.db.session() as session:
        story = queries.add_story(session, ws, Draft(customer="Acme", quote="Great"), "U0REP")
    client = posting_client()
    complaint_saved(services, client, "T111", ws, story)
    client.chat_postMessage.assert_not_called()


def test_without_a_channel_nothing_is_posted(services: Services) -> None:
    ws = workspace(services, None)
    with services.db.session() as session:
        story = queries.add_story(session, ws, Draft(customer="A", quote="B", kind="complaint"), "U0REP")
    client = posting_client()
    complaint_saved(services, client, "T111", ws, story)
    client.chat_postMessage.assert_not_called()
    with services.db.session() as session:
        assert store.unposted(session, ws) == [story.id]


def test_resolve_with_nothing_typed_keeps_the_modal_and_stores_nothing(services: Services) -> None:
    ws = workspace(services)
    with services.db.session() as session:
        story = queries.add_story(session, ws, Draft(customer="A", quote="B", kind="complaint"), "U0REP")
    ack, client = Mock(spec=Ack), posting_client()
    view = {"state": {"values": {}}, "private_metadata": json.dumps({"story_id": story.id})}
    save_resolution(services, ack, view, client, request_for(services, "U0FIX"))
    assert ack.call_args.kwargs["response_action"] == "errors"
    assert "change" in ack.call_args.kwargs["errors"]
    client.chat_postMessage.assert_not_called()
    with services.db.session() as session:
        assert store.count_open(session, ws) == 1


@pytest.mark.parametrize("value", ["nope", "0", "-3", "999999"])
def test_buttons_on_something_that_is_no_complaint_say_so(services: Services, value: str) -> None:
    workspace(services)
    body = {"actions": [{"value": value}], "trigger_id": "trig"}
    for press in (take_ownership, open_resolve):
        respond, client = Mock(spec=Respond), posting_client()
        press(services, body, respond, client, request_for(services))
        assert "no longer exists" in respond.call_args.kwargs["text"]
        assert respond.call_args.kwargs["replace_original"] is False
        client.views_open.assert_not_called()
        client.chat_update.assert_not_called()
