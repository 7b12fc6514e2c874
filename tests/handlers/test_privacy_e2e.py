"""Anonymous stories seen by a stranger, over HTTP against the real app and the Slack stand-in.

AUTHOR wrote an anonymous story, CREDITED is a colleague credited on it, STRANGER is neither
author nor manager, UBOSS a manager (IMPACT_MANAGERS). The stranger never reads the customer
or the contact in search, list, App Home, a preview or a direct message, and never finds the
story by the customer's name; Edit and Delete appear only where the viewer may use them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import select

from domain.story import Draft, Story
from storage import queries
from storage.models import PostRow
from tests.conftest import RunningApp
from tests.signing import block_action_payload, command_body, event_body, interactive_body
from tests.slack_spec import assert_calls_match_spec

AUTHOR, CREDITED, STRANGER, MANAGER = "U0AUTHOR", "U0CREDIT", "U0STRANGE", "UBOSS"
SECRET_NAME = "Zephyr Holdings"
SECRET_CONTACT = "Dana Okafor"


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def add_story(app: RunningApp, author: str, **fields: Any) -> Story:
    draft = Draft(**{"quote": "It just works", **fields})
    with app.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        return queries.add_story(session, ws, draft, author=author, channel="C1")


def seed(app: RunningApp) -> dict[str, Story]:
    """The author's anonymous story (a colleague credited), their internal one, and the stranger's own."""
    return {
        "secret": add_story(
            app,
            AUTHOR,
            customer=SECRET_NAME,
            contact=SECRET_CONTACT,
            quote="They doubled onboarding speed",
            impact="Onboarding in a day",
            consent="anonymous",
            tags=("onboarding",),
            credited=(CREDITED,),
        ),
        "open": add_story(app, AUTHOR, customer="Open Corp", quote="onboarding was painless"),
        "strangers": add_story(app, STRANGER, customer="Stranger Corp", quote="onboarding, our own"),
    }


class Replies:
    """Sends `/impact` as a user and returns the ephemeral reply that comes back."""

    def __init__(self, app: RunningApp) -> None:
        self.app = app
        self.count = 0

    def __call__(self, text: str, user: str) -> dict[str, Any]:
        status, _ = self.app.post(
            command_body(text=text, user_id=user, response_url=self.app.standin.response_url("cmd"))
        )
        assert status == 200
        self.count += 1
        reply: dict[str, Any] = self.app.standin.wait_for("response_url", self.count)[-1].args
        for block in reply.get("blocks") or []:
            parsed = Block.parse(block)
            assert parsed is not None
            parsed.validate_json()
        return reply


def shown(reply: dict[str, Any]) -> str:
    return json.dumps(reply, ensure_ascii=False)


def buttons(reply: dict[str, Any]) -> dict[str, set[int]]:
    """{action_id: story ids} of the Edit and Delete buttons in a reply."""
    found: dict[str, set[int]] = {"story_edit": set(), "story_delete": set()}
    for block in reply.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") in found:
                found[element["action_id"]].add(int(element["value"]))
    return found


def assert_hidden(text: str) -> None:
    assert SECRET_NAME not in text and SECRET_NAME.lower() not in text.lower()
    assert SECRET_CONTACT not in text


def test_search_hides_anonymous_names_from_a_stranger_and_shows_buttons_only_where_allowed(
    running: RunningApp,
) -> None:
    stories = seed(running)
    ask = Replies(running)

    stranger = ask("search onboarding", STRANGER)
    assert_hidden(shown(stranger))
    assert "A customer" in shown(stranger) and "They doubled onboarding speed" in shown(stranger)
    assert "Open Corp" in shown(stranger) and "Stranger Corp" in shown(stranger)
    # Edit and Delete only on the stranger's own story.
    assert buttons(stranger) == {
        "story_edit": {stories["strangers"].id},
        "story_delete": {stories["strangers"].id},
    }

    # The name is not a way in either: searching for it finds nothing for the stranger.
    for words in ("search zephyr", "search holdings", "search okafor"):
        reply = ask(words, STRANGER)
        assert "No stories match" in shown(reply)
        assert "They doubled" not in shown(reply)

    author = ask("search zephyr", AUTHOR)
    assert SECRET_NAME in shown(author) and "A customer" not in shown(author)
    assert buttons(author)["story_edit"] == {stories["secret"].id}

    manager = ask("search onboarding", MANAGER)
    assert SECRET_NAME in shown(manager)
    everyone = {s.id for s in stories.values()}
    assert buttons(manager) == {"story_edit": everyone, "story_delete": everyone}
    assert SECRET_NAME in shown(ask("search okafor", MANAGER))
    assert_calls_match_spec(running.standin.calls)


def test_list_shows_the_author_their_own_anonymous_names_and_nothing_of_others(running: RunningApp) -> None:
    stories = seed(running)
    ask = Replies(running)
    mine = ask("list", AUTHOR)
    assert SECRET_NAME in shown(mine) and "Open Corp" in shown(mine)
    assert buttons(mine)["story_delete"] == {stories["secret"].id, stories["open"].id}
    theirs = ask("mine", STRANGER)
    assert_hidden(shown(theirs))
    assert buttons(theirs)["story_edit"] == {stories["strangers"].id}


def open_home(app: RunningApp, user: str) -> str:
    before = len(app.standin.calls_to("views.publish"))
    event = {"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home"}
    body = event_body(event | {"event_ts": f"{time.time():.6f}"}, event_id=f"EvHome{user}{before}")
    assert app.post(body)[0] == 200
    call = app.standin.wait_for("views.publish", before + 1)[-1]
    assert call.args["user_id"] == user
    view: dict[str, Any] = call.json_arg("view")
    View(**view).validate_json()
    return json.dumps(view["blocks"], ensure_ascii=False)


def test_home_recent_voices_name_anonymous_customers_only_to_author_and_managers(running: RunningApp) -> None:
    seed(running)
    stranger = open_home(running, STRANGER)
    assert_hidden(stranger)
    assert "A customer" in stranger and "They doubled onboarding speed" in stranger
    assert SECRET_NAME in open_home(running, AUTHOR)
    assert SECRET_NAME in open_home(running, MANAGER)


def test_preview_and_direct_messages_keep_the_anonymous_customer_from_everyone_but_the_author(
    running: RunningApp,
) -> None:
    stories = seed(running)
    ask = Replies(running)
    # The preview shows the post as it will appear: anonymous, for the manager too.
    preview = ask("story onboarding", MANAGER)
    assert_hidden(shown(preview))
    assert "They doubled onboarding speed" in shown(preview)
    post_button = next(
        e
        for b in preview["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "preview_post"
    )
    payload = block_action_payload("preview_post", post_button["value"], user_id=MANAGER)
    payload["response_url"] = running.standin.response_url("post")
    assert running.post(interactive_body(payload))[0] == 200

    # The post, then a DM to the author and one to the credited colleague.
    wait_until(lambda: len(running.standin.messages.get("D" + AUTHOR, [])) == 1)
    wait_until(lambda: len(running.standin.messages.get("D" + CREDITED, [])) == 1)
    [post] = running.standin.messages["C1"]
    assert_hidden(json.dumps(post, ensure_ascii=False))
    [to_author] = running.standin.messages["D" + AUTHOR]
    [to_credited] = running.standin.messages["D" + CREDITED]
    assert SECRET_NAME in to_author["text"]
    assert_hidden(json.dumps(to_credited, ensure_ascii=False))
    assert "A customer story you made possible was just featured" in to_credited["text"]

    # Both DMs are recorded with the story, so purge can redact them later.
    def recorded() -> set[tuple[str, str, str, int | None]]:
        with running.db.session() as session:
            rows = session.scalars(select(PostRow))
            return {(r.channel_id, r.ts, r.kind, r.story_id) for r in rows}

    secret = stories["secret"].id
    wait_until(lambda: len(recorded()) == 3)
    assert recorded() == {
        ("C1", post["ts"], "story", secret),
        ("D" + AUTHOR, to_author["ts"], "dm", secret),
        ("D" + CREDITED, to_credited["ts"], "dm", secret),
    }
    assert_calls_match_spec(running.standin.calls)


def test_a_stranger_clicking_edit_or_delete_is_refused_and_nothing_changes(running: RunningApp) -> None:
    stories = seed(running)
    secret = stories["secret"]
    for n, action in enumerate(("story_edit", "story_delete"), 1):
        payload = block_action_payload(action, str(secret.id), user_id=STRANGER)
        payload["response_url"] = running.standin.response_url(f"click{n}")
        assert running.post(interactive_body(payload))[0] == 200
        reply = running.standin.wait_for("response_url", n)[-1].args
        assert reply["text"] == "Only the author or a manager can change this story."
        assert_hidden(shown(reply))
    assert running.standin.calls_to("views.open") == []
    with running.db.session() as session:
        ws = queries.workspace_id(session, "T111")
        assert queries.get_story(session, ws, secret.id) == secret
