"""`/impact stats` and `/impact references` called directly with Mock(Ack)-style fakes."""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock

import pytest
from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.quicklog import split_command
from bot.services import Services, build_services
from bot.settings import Settings
from domain.story import Draft
from handlers.commands import SUBCOMMANDS, handle_impact
from handlers.context import Request
from storage import queries
from storage.db import Database
from tests.conftest import drop_tables


@pytest.fixture
def services(db: Database) -> Services:
    settings = Settings(
        bot_token="xoxb-test", signing_secret="s", database_url=db.url, managers=frozenset({"UBOSS"})
    )
    return build_services(settings, db, with_scheduler=False)


def run(services: Services, text: str, user: str) -> tuple[Mock, Mock, Mock]:
    ack, respond, client = Mock(spec=Ack), Mock(spec=Respond), Mock(spec=WebClient)
    client.users_info.return_value = {"user": {"is_admin": False}}
    body: dict[str, Any] = {"text": text, "user_id": user, "team_id": "T111", "channel_id": "C1"}
    context = BoltContext({"impact_request": Request("T111", "", user, "en", services.db)})
    handle_impact(services, ack, body, respond, client, context)
    return ack, respond, client


def test_the_new_words_are_reserved_and_routed() -> None:
    assert split_command("references acme") == ("references", "acme")
    assert split_command("stats") == ("stats", "")
    assert SUBCOMMANDS["stats"].managers_only and not SUBCOMMANDS["references"].managers_only


def test_stats_ack_first_then_answer_a_manager(services: Services) -> None:
    order: list[str] = []
    ack, respond, client = Mock(spec=Ack), Mock(spec=Respond), Mock(spec=WebClient)
    ack.side_effect = lambda *a, **k: order.append("ack")
    respond.side_effect = lambda *a, **k: order.append("respond")
    context = BoltContext({"impact_request": Request("T111", "", "UBOSS", "en", services.db)})
    body = {"text": "stats", "user_id": "UBOSS", "team_id": "T111", "channel_id": "C1"}
    handle_impact(services, ack, body, respond, client, context)
    assert order == ["ack", "respond"]
    ack.assert_called_once_with()
    assert respond.call_args.kwargs["text"] == "Customer voice insights"
    client.chat_postMessage.assert_not_called()


def test_stats_refuse_a_rep_and_compute_nothing(services: Services) -> None:
    _, respond, client = run(services, "stats", "U1")
    respond.assert_called_once()
    assert "Only managers" in str(respond.call_args)
    assert "insights" not in str(respond.call_args).lower()


def test_references_for_anyone(services: Services) -> None:
    with services.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        queries.add_story(
            session, ws, Draft("Acme", "Happy to talk to your prospects", consent="public"), "U0AUTH"
        )
    _, respond, _ = run(services, "references acme", "U1")
    assert "Acme" in str(respond.call_args.kwargs["blocks"])
    assert "<@U0AUTH>" in str(respond.call_args.kwargs["blocks"])


def test_database_down_is_an_apology_not_a_crash(services: Services) -> None:
    with services.db.session() as session:
        queries.workspace_id(session, "T111")
    drop_tables(services.db, "posts", "stories")
    for command, user in (("stats", "UBOSS"), ("references", "U1")):
        ack, respond, _ = run(services, command, user)
        ack.assert_called_once_with()
        assert "couldn't reach my database" in str(respond.call_args)
