"""`/impact`, the modal, buttons and the shortcut, driven over HTTP against the real app."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from storage import queries
from tests.conftest import RunningApp, acked_message, database_locked
from tests.signing import (
    block_action_payload,
    command_body,
    interactive_body,
    message_action_payload,
    view_submission_payload,
)
from tests.slack_spec import assert_calls_match_spec


def stories(app: RunningApp) -> list[Any]:
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        return queries.live_stories(session, ws)


def assert_blocks_valid(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


def command(app: RunningApp, text: str, **kw: Any) -> tuple[int, str]:
    kw.setdefault("response_url", app.standin.response_url("cmd"))
    return app.post(command_body(text=text, **kw))


def last_response(app: RunningApp, count: int = 1) -> dict[str, Any]:
    return app.standin.wait_for("response_url", count)[-1].args


def test_quick_log_stores_story_and_confirms_with_edit_delete(running: RunningApp) -> None:
    started = time.monotonic()
    status, body = command(running, "Acme Corp: They closed the quarter a week early <@U2222|bob>")
    assert status == 200
    assert time.monotonic() - started < 3
    # The confirmation travels in the ack itself, not through response_url.
    reply = acked_message(body)
    assert reply.get("response_type", "ephemeral") == "ephemeral"
    assert_blocks_valid(reply["blocks"])
    text = json.dumps(reply["blocks"])
    assert "Customer of the week: Acme Corp" in text
    assert "story_edit" in text and "story_delete" in text
    [story] = stories(running)
    assert story.customer == "Acme Corp"
    assert story.quote == "They closed the quarter a week early"
    assert story.credited == ("U2222",)
    assert story.author == "U1" and story.channel == "C1" and story.kind == "praise"
    assert running.standin.calls_to("response_url") == []
    assert_calls_match_spec(running.standin.calls)


def test_quick_log_separators(running: RunningApp) -> None:
    for customer, text in [
        ("Beta", "Beta - fast support"),
        ("Gamma", "Gamma — loved it"),
        ("Delta", "Delta | saved hours"),
    ]:
        _, body = command(running, text)
        assert customer in json.dumps(acked_message(body)["blocks"])
    assert sorted(s.customer for s in stories(running)) == ["Beta", "Delta", "Gamma"]


def test_forged_or_stale_signature_is_rejected_and_nothing_stored(running: RunningApp) -> None:
    body = command_body(text="Acme: forged", response_url=running.standin.response_url())
    assert running.post(body, secret="wrong-secret")[0] == 401
    assert running.post(body, timestamp=int(time.time()) - 301)[0] == 401
    time.sleep(0.3)
    assert stories(running) == []
    assert running.standin.calls_to("response_url") == []


def test_text_without_customer_opens_prefilled_modal(running: RunningApp) -> None:
    command(running, "they loved the new export and said it saved them a day")
    [call] = running.standin.wait_for("views.open")
    view = call.json_arg("view")
    View(**view).validate_json()
    quote = [b for b in view["blocks"] if b["block_id"] == "quote"][0]
    assert quote["element"]["initial_value"] == "they loved the new export and said it saved them a day"
    assert stories(running) == []
    assert_calls_match_spec(running.standin.calls)


def test_empty_text_opens_the_modal(running: RunningApp) -> None:
    command(running, "")
    [call] = running.standin.wait_for("views.open")
    view = call.json_arg("view")
    assert view["callback_id"] == "story_modal"
    assert {b["block_id"] for b in view["blocks"]} >= {
        "customer",
        "quote",
        "contact",
        "impact",
        "kind",
        "tags",
        "credited",
        "consent",
        "source",
    }


def test_help_is_ephemeral_with_examples(running: RunningApp) -> None:
    status, body = command(running, "help")
    assert status == 200
    reply = json.loads(body)
    assert reply.get("response_type", "ephemeral") == "ephemeral"
    assert "/impact Acme Corp:" in json.dumps(reply)
    assert_blocks_valid(reply["blocks"])


def test_quote_over_limit_names_limit_and_echoes_text(running: RunningApp) -> None:
    long_quote = "word " * 700
    _, body = command(running, "Acme: " + long_quote)
    reply = acked_message(body)
    text = json.dumps(reply)
    assert "3000" in text
    assert "word word word" in text
    assert_blocks_valid(reply["blocks"])
    assert stories(running) == []
    assert running.standin.calls_to("response_url") == []


def test_list_and_search_show_only_this_workspace(running: RunningApp) -> None:
    acked_message(command(running, "Acme: onboarding was painless")[1])  # confirmed in the ack
    # Another workspace's command is refused by authorization (empty ack, refusal by response_url).
    assert command(running, "Other: onboarding elsewhere", team_id="T999") == (200, "")
    assert "another workspace" in json.dumps(last_response(running, 1))
    command(running, "list")
    reply = last_response(running, 2)
    assert "Acme" in json.dumps(reply) and "Other" not in json.dumps(reply)
    assert "story_edit" in json.dumps(reply)
    assert_blocks_valid(reply["blocks"])
    command(running, "search ONBOARDING")
    reply = last_response(running, 3)
    assert "Acme" in json.dumps(reply) and "Other" not in json.dumps(reply)
    command(running, "search nothing-matches")
    assert "No stories match" in json.dumps(last_response(running, 4))


def submit(
    app: RunningApp, values: dict[str, Any], meta: dict[str, Any] | None = None, **kw: Any
) -> tuple[int, str]:
    state = {
        "customer": {"type": "plain_text_input", "value": values.get("customer")},
        "quote": {"type": "plain_text_input", "value": values.get("quote")},
        "contact": {"type": "plain_text_input", "value": values.get("contact")},
        "impact": {"type": "plain_text_input", "value": values.get("impact")},
        "kind": {"type": "static_select", "selected_option": {"value": values.get("kind", "praise")}},
        "tags": {"type": "plain_text_input", "value": values.get("tags")},
        "credited": {"type": "multi_users_select", "selected_users": values.get("credited", [])},
        "consent": {"type": "static_select", "selected_option": {"value": "internal"}},
        "source": {"type": "url_text_input", "value": values.get("source")},
    }
    meta = meta or {"story_id": None, "channel": "C1", "response_url": app.standin.response_url("modal")}
    values_by_block = {block: {"value": element} for block, element in state.items()}
    payload = view_submission_payload("story_modal", values_by_block, private_metadata=json.dumps(meta), **kw)
    return app.post(interactive_body(payload))


def test_modal_missing_fields_gives_inline_errors(running: RunningApp) -> None:
    status, body = submit(running, {"customer": "", "quote": "", "source": "ftp://x"})
    assert status == 200
    reply = json.loads(body)
    assert reply["response_action"] == "errors"
    assert set(reply["errors"]) == {"customer", "quote", "source"}
    assert stories(running) == []


def test_modal_saves_all_fields_and_confirms(running: RunningApp) -> None:
    status, body = submit(
        running,
        {
            "customer": "Acme",
            "quote": "It just works",
            "contact": "CFO",
            "impact": "Closed books in 2 days",
            "kind": "referral",
            "tags": "finance, #Export",
            "credited": ["U0222", "U0333"],
            "source": "https://example.com/x",
        },
    )
    assert status == 200 and body == ""
    reply = last_response(running)
    assert_blocks_valid(reply["blocks"])
    [story] = stories(running)
    assert (story.contact, story.impact, story.kind) == ("CFO", "Closed books in 2 days", "referral")
    assert story.tags == ("finance", "export") and story.credited == ("U0222", "U0333")


def test_edit_button_opens_modal_and_update_keeps_id(running: RunningApp) -> None:
    acked_message(command(running, "Acme: first words")[1])
    [story] = stories(running)
    action = block_action_payload("story_edit", str(story.id), response_url=running.standin.response_url("b"))
    running.post(interactive_body(action))
    [call] = running.standin.wait_for("views.open")
    view = call.json_arg("view")
    meta = json.loads(view["private_metadata"])
    assert meta["story_id"] == story.id
    submit(running, {"customer": "Acme", "quote": "better words"}, meta=meta)
    [updated] = stories(running)
    assert updated.id == story.id and updated.quote == "better words"


def test_delete_by_author_and_refusal_for_others(running: RunningApp) -> None:
    acked_message(command(running, "Acme: keep me")[1])
    [story] = stories(running)
    other = block_action_payload(
        "story_delete", str(story.id), user_id="U9", response_url=running.standin.response_url("o")
    )
    running.post(interactive_body(other))
    assert "Only the author or a manager" in json.dumps(last_response(running, 1))
    assert len(stories(running)) == 1
    mine = block_action_payload("story_delete", str(story.id), response_url=running.standin.response_url("m"))
    running.post(interactive_body(mine))
    assert "Deleted" in json.dumps(last_response(running, 2))
    assert stories(running) == []


def test_message_shortcut_prefills_text_and_permalink(running: RunningApp) -> None:
    payload = message_action_payload(
        "save_customer_voice", "Your team saved our launch &amp; our weekend", "1700000000.000200", "C7"
    )
    running.post(interactive_body(payload))
    [call] = running.standin.wait_for("views.open")
    view = call.json_arg("view")
    by_id = {b["block_id"]: b for b in view["blocks"]}
    assert by_id["quote"]["element"]["initial_value"] == "Your team saved our launch & our weekend"
    assert by_id["source"]["element"]["initial_value"].startswith("https://")
    assert running.standin.calls_to("chat.getPermalink")
    assert_calls_match_spec(running.standin.calls)


def test_unknown_action_and_callback_are_acked_and_logged(running: RunningApp, caplog: Any) -> None:
    status, _ = running.post(interactive_body(block_action_payload("no_such_action", "1")))
    assert status == 200
    status, _ = running.post(interactive_body(view_submission_payload("no_such_view", {})))
    assert status == 200
    time.sleep(0.2)
    assert "no_such_action" in caplog.text and "no_such_view" in caplog.text
    # Still serving.
    assert command(running, "help")[0] == 200


def test_database_locked_acks_in_time_with_apology_and_no_row(running: RunningApp) -> None:
    with database_locked(running.db):
        started = time.monotonic()
        status, _ = command(running, "Acme: saved while the database is locked")
        assert status == 200 and time.monotonic() - started < 3
        reply = last_response(running)
        text = json.dumps(reply)
        assert "Sorry" in text and "saved while the database is locked" in text
    assert stories(running) == []


def test_modal_submit_with_database_down_keeps_modal_open(running: RunningApp) -> None:
    with database_locked(running.db):
        status, body = submit(running, {"customer": "Acme", "quote": "keep my words"})
    reply = json.loads(body)
    assert reply["response_action"] == "errors" and "Sorry" in reply["errors"]["quote"]
    assert stories(running) == []


def test_views_open_error_gives_hint_and_echo(running: RunningApp) -> None:
    running.standin.error("views.open", "expired_trigger_id")
    command(running, "no customer here but important words")
    reply = last_response(running)
    assert "expired_trigger_id" in json.dumps(reply) and "important words" in json.dumps(reply)


def test_healthz(running: RunningApp, db_backend: str) -> None:
    checked = {
        "sqlite": {"backend": "sqlite"},
        "postgresql": {"backend": "postgresql", "host": "127.0.0.1:5432"},
    }
    with urllib.request.urlopen(running.url + "/healthz") as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"status": "ok", "database": checked[db_backend]}


def test_oauth_mode_serves_the_install_page(make_app: Any, db: Any) -> None:
    app = make_app(db, bot_token=None, client_id="111.222", client_secret="shh")
    with urllib.request.urlopen(app.url + "/slack/install") as resp:
        page = resp.read().decode()
    authorize = app.standin.base_url.removesuffix("/api/") + "/oauth/v2/authorize"  # SLACK_API_URL's host
    assert resp.status == 200 and authorize in page and "client_id=111.222" in page
    assert "chat%3Awrite" in page or "chat:write" in page


def test_healthz_is_503_when_the_database_does_not_answer(make_app: Any) -> None:
    from storage.db import Database

    down = Database("postgresql+psycopg://nobody@127.0.0.1:9/none")
    app = make_app(down)
    try:
        urllib.request.urlopen(app.url + "/healthz")
        raise AssertionError("expected 503")
    except urllib.error.HTTPError as e:
        assert e.code == 503
    # Slack requests are still acknowledged, with an apology: in the ack, as the refusal is fast.
    status, body = command(app, "Acme: said while the database is down")
    assert status == 200
    reply = json.dumps(acked_message(body))
    assert "Sorry" in reply and "said while the database is down" in reply


def test_only_author_or_manager_can_save_an_edit(running: RunningApp) -> None:
    acked_message(command(running, "Acme: original words")[1])
    [story] = stories(running)
    meta = {"story_id": story.id, "channel": "C1", "response_url": running.standin.response_url("e")}
    status, body = submit(running, {"customer": "Acme", "quote": "vandalised"}, meta=meta, user_id="U9")
    assert json.loads(body)["errors"]["customer"].startswith("Only the author or a manager")
    assert stories(running)[0].quote == "original words"
    status, body = submit(running, {"customer": "Acme", "quote": "moderated"}, meta=meta, user_id="UBOSS")
    assert status == 200 and body == ""
    [edited] = stories(running)
    assert (edited.quote, edited.author) == ("moderated", "U1")
