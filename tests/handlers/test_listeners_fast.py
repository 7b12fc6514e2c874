"""Listeners called directly with Mock(Ack)-style fakes, as Bolt's starter template tests them.

Fast and exact: no HTTP, no Slack stand-in; the database is a real SQLite file. The end-to-end
tests beside this file drive the same listeners over HTTP.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock

import pytest
from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.services import Services, build_services
from bot.settings import Settings
from domain.story import Draft
from handlers.commands import handle_impact
from handlers.context import Request
from handlers.views import save_from_modal
from storage import queries
from storage.db import Database


@pytest.fixture
def services(db: Database) -> Services:
    settings = Settings(
        bot_token="xoxb-test", signing_secret="s", database_url=db.url, managers=frozenset({"UBOSS"})
    )
    return build_services(settings, db, with_scheduler=False)


def context_for(services: Services, user: str = "U1") -> BoltContext:
    return BoltContext({"impact_request": Request("T111", "", user, "en", services.db)})


def command(text: str, user: str = "U1") -> dict[str, Any]:
    return {"text": text, "user_id": user, "team_id": "T111", "channel_id": "C1", "trigger_id": "trig"}


def fakes() -> tuple[Mock, Mock, Mock]:
    return Mock(spec=Ack), Mock(spec=Respond), Mock(spec=WebClient)


def slack_error(status: int, error: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="x",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=status,
    )
    return SlackApiError(error, response)


def test_help_is_the_ack_itself(services: Services) -> None:
    ack, respond, client = fakes()
    handle_impact(services, ack, command("help"), respond, client, context_for(services))
    ack.assert_called_once()
    assert "/impact Acme" in str(ack.call_args.kwargs["blocks"])
    respond.assert_not_called()
    client.assert_not_called()


def test_quick_log_stores_first_then_confirms_in_the_ack(services: Services) -> None:
    ack, respond, client = fakes()

    def live() -> list[Any]:
        with services.db.session() as s:
            return list(queries.live_stories(s, queries.workspace_id(s, "T111")))

    stored_when_acked: list[list[Any]] = []
    ack.side_effect = lambda *a, **k: stored_when_acked.append(live())
    handle_impact(
        services, ack, command("Acme: they shipped a week early"), respond, client, context_for(services)
    )
    ack.assert_called_once()
    assert "Acme" in str(ack.call_args.kwargs["blocks"]) and ack.call_args.kwargs["text"]
    [[story]] = stored_when_acked  # the story was stored when the confirmation went out in the ack
    assert (story.customer, story.quote, story.author) == ("Acme", "they shipped a week early", "U1")
    assert live() == [story]
    respond.assert_not_called()
    assert client.method_calls == []  # nothing else to tell Slack about a praise story


def test_empty_command_opens_the_modal_and_a_timeout_is_told_with_the_text(services: Services) -> None:
    ack, respond, client = fakes()
    handle_impact(services, ack, command(""), respond, client, context_for(services))
    assert client.views_open.call_args.kwargs["trigger_id"] == "trig"
    respond.assert_not_called()

    ack, respond, client = fakes()
    client.views_open.side_effect = TimeoutError("timed out")
    handle_impact(services, ack, command("they loved it"), respond, client, context_for(services))
    shown = str(respond.call_args.kwargs)
    assert "didn't answer in time" in shown and "they loved it" in shown


def test_manager_subcommand_refuses_others_and_runs_for_managers(services: Services) -> None:
    ack, respond, client = fakes()
    client.users_info.return_value = {"user": {"is_admin": False}}
    handle_impact(services, ack, command("schedule"), respond, client, context_for(services, "U1"))
    assert "Only managers" in str(respond.call_args)
    client.views_open.assert_not_called()

    ack, respond, client = fakes()
    handle_impact(
        services, ack, command("schedule", "UBOSS"), respond, client, context_for(services, "UBOSS")
    )
    assert client.views_open.call_args.kwargs["view"]["callback_id"] == "schedule_modal"


def test_manager_check_slack_cannot_answer_is_said_not_taken_for_a_no(services: Services) -> None:
    ack, respond, client = fakes()
    client.users_info.side_effect = slack_error(429, "ratelimited")
    handle_impact(services, ack, command("story"), respond, client, context_for(services, "U7"))
    assert "couldn't check your manager rights" in str(respond.call_args)


def modal_view(customer: str, quote: str, meta: str = "") -> dict[str, Any]:
    text = lambda v: {"value": {"type": "plain_text_input", "value": v}}  # noqa: E731
    return {"private_metadata": meta, "state": {"values": {"customer": text(customer), "quote": text(quote)}}}


def test_modal_with_missing_fields_is_answered_inline(services: Services) -> None:
    ack, _, client = fakes()
    save_from_modal(services, ack, modal_view("", "words"), client, context_for(services))
    assert ack.call_args.kwargs["response_action"] == "errors"
    assert set(ack.call_args.kwargs["errors"]) == {"customer"}


def test_editing_someone_elses_story_when_slack_cannot_say_keeps_the_modal_open(services: Services) -> None:
    with services.db.session() as s:
        story = queries.add_story(
            s, queries.workspace_id(s, "T111"), Draft(customer="A", quote="B"), "U0AUTH"
        )
    ack, _, client = fakes()
    client.token = "xoxb-test"
    client.base_url = "http://127.0.0.1:9/api/"  # the short pre-ack call finds nobody there
    ctx = context_for(services, "U7")
    save_from_modal(services, ack, modal_view("A", "edited", f'{{"story_id": {story.id}}}'), client, ctx)
    assert "couldn't check your manager rights" in str(ack.call_args.kwargs["errors"])
    with services.db.session() as s:
        assert queries.get_story(s, queries.workspace_id(s, "T111"), story.id).quote == "B"  # type: ignore[union-attr]
