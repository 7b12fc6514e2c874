"""Erasure in storage and its Slack redactions, on SQLite and PostgreSQL: which stories match,
what is marked for redaction (complaint posts too), and what a failed redaction leaves behind."""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlalchemy import select

from bot.purge import purge_customer
from domain.story import Draft
from storage import posts, queries
from storage.db import Database
from storage.models import ComplaintRow, PostRow, ReactionRow, StoryRow

REDACTED = "This story was removed at the customer's request."


def add(db: Database, customer: str, team: str = "T1", **fields: Any) -> int:
    with db.session() as session:
        ws = queries.workspace_id(session, team)
        draft = Draft(**{"customer": customer, "quote": "q", **fields})
        return queries.add_story(session, ws, draft, author="U0AUTHOR").id


def slack_error(error: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="chat.update",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=200,
    )
    return SlackApiError(error, response)


def test_names_match_whole_and_in_any_case_only_in_their_workspace(any_db: Database) -> None:
    ids = {name: add(any_db, name) for name in ("Straße AG", "STRASSE AG", "straße ag", "Straße AG Süd")}
    add(any_db, "Straße AG", team="T2")
    with any_db.session() as session:
        ws = queries.workspace_id(session, "T1")
        # casefold: ß and SS are the same letter to it, as to a reader.
        assert sorted(queries.customer_story_ids(session, ws, " STRASSE ag ")) == sorted(
            [ids["Straße AG"], ids["STRASSE AG"], ids["straße ag"]]
        )
        assert queries.customer_story_ids(session, ws, "Straße") == []
        assert queries.customer_story_ids(session, ws, "") == []


def test_erasing_marks_every_message_of_the_story_and_drops_its_reactions(any_db: Database) -> None:
    story = add(any_db, "Acme")
    kept = add(any_db, "Acme Two")
    with any_db.session() as session:
        ws = queries.workspace_id(session, "T1")
        posts.add_post(session, ws, "C1", "1.000001", "story", story)
        posts.add_post(session, ws, "DU0AUTHOR", "1.000002", "dm", story)
        posts.add_post(session, ws, "C2", "1.000003", "prompt", story, prompt="Which customer?")
        posts.add_post(session, ws, "C1", "1.000004", "story", kept)
        session.add(ComplaintRow(workspace_id=ws, story_id=story, channel_id="C9", ts="1.000005"))
        session.add(
            ReactionRow(workspace_id=ws, channel_id="C1", ts="1.000001", user_id="U2", reaction="tada")
        )
        session.add(
            ReactionRow(workspace_id=ws, channel_id="C1", ts="1.000004", user_id="U2", reaction="tada")
        )
    client = Mock(WebClient)
    client.chat_update.side_effect = [None, slack_error("not_in_channel"), None, None]
    report = purge_customer(any_db, ws, "acme", lambda: client, "en", "T1")
    assert report.erased == 1
    assert [(m.channel_id, m.kind) for m in report.redacted] == [
        ("C1", "story"),
        ("C2", "prompt"),
        ("C9", "complaint"),
    ]
    assert [(u.message.channel_id, u.reason, u.retried) for u in report.unreached] == [
        ("DU0AUTHOR", "not_in_channel", True)
    ]
    calls = {c.kwargs["channel"]: c.kwargs for c in client.chat_update.call_args_list}
    assert calls["C1"]["text"] == REDACTED and calls["C9"]["text"] == REDACTED
    assert calls["C1"]["blocks"][0]["text"]["text"] == REDACTED
    assert calls["C2"]["text"] == "Which customer?"  # the prompt keeps its question
    with any_db.session() as session:
        assert session.scalars(select(StoryRow.customer)).all() == ["Acme Two"]
        assert session.scalars(select(ComplaintRow)).all() == []
        assert [(r.channel_id, r.ts) for r in session.scalars(select(ReactionRow))] == [("C1", "1.000004")]
        rows = {(r.channel_id, r.kind, r.story_id) for r in session.scalars(select(PostRow))}
    assert rows == {("C1", "story", kept), ("DU0AUTHOR", "purge:dm", None)}

    # The next purge, of anyone, tries the DM again; nothing already redacted is touched twice.
    client.chat_update.side_effect = None
    again = purge_customer(any_db, ws, "nobody", lambda: client, "en", "T1")
    assert (again.erased, [m.channel_id for m in again.redacted], again.unreached) == (0, ["DU0AUTHOR"], [])
    assert client.chat_update.call_count == 5


def test_nothing_to_redact_asks_for_no_client(any_db: Database) -> None:
    add(any_db, "Acme")
    with any_db.session() as session:
        ws = queries.workspace_id(session, "T1")

    def no_client() -> WebClient:
        raise AssertionError("no Slack client is needed when no message names the customer")

    report = purge_customer(any_db, ws, "ACME", no_client, "en", "T1")
    assert (report.erased, report.redacted, report.unreached) == (1, [], [])
    assert report.lines()[-1] == "erased 1 story, redacted 0 messages, could not reach 0"
