"""Who reads which language: the Slack locale (users.info, cached per team and user), else the
workspace's language, else IMPACT_LANGUAGE; a request never waits long for Slack."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from slack_bolt import BoltContext

from bot.languages import NO_PREFERENCE, UserLanguages
from bot.services import build_services
from bot.settings import Settings
from handlers.context import Request, build_request
from storage import queries
from storage.db import Database


class FakeClient:
    """Stands in for the WebClient the lookup builds: counts users.info calls, answers as told."""

    def __init__(self, locales: dict[str, Any], delay: float = 0.0) -> None:
        self.locales = locales
        self.delay = delay
        self.calls: list[dict[str, Any]] = []
        self.token = "xoxb-test"
        self.base_url = "http://stand-in/"

    def users_info(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        time.sleep(self.delay)
        answer = self.locales.get(kwargs["user"])
        if isinstance(answer, Exception):
            raise answer
        return {"user": {"id": kwargs["user"], "locale": answer}}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    """users.info answers of the fake, whatever client the lookup builds from the request's."""
    client = FakeClient({"U_DE": "de-AT", "U_NL": "nl-BE", "U_FR": "fr-FR", "U_EN": "en-US"})
    monkeypatch.setattr("bot.languages.WebClient", lambda **kw: client)
    return client


def languages(db: Database, **kw: Any) -> UserLanguages:
    settings = Settings(bot_token="xoxb-test", signing_secret="s", database_url=db.url, language="en")
    return UserLanguages(settings, db, **kw)


def test_locale_picks_german_and_dutch_and_is_asked_once(db: Database, fake: FakeClient) -> None:
    langs = languages(db)
    assert langs.from_locale(fake, "T1", "U_DE") == "de"  # type: ignore[arg-type]
    assert langs.from_locale(fake, "T1", "U_NL") == "nl"  # type: ignore[arg-type]
    assert langs.from_locale(fake, "T1", "U_FR") == NO_PREFERENCE  # type: ignore[arg-type]
    assert langs.from_locale(fake, "T1", "U_EN") == NO_PREFERENCE  # type: ignore[arg-type]
    for _ in range(3):
        assert langs.from_locale(fake, "T1", "U_DE") == "de"  # type: ignore[arg-type]
    assert [c["user"] for c in fake.calls] == ["U_DE", "U_NL", "U_FR", "U_EN"]
    assert all(c["include_locale"] is True for c in fake.calls)
    # Per team: the same user id in another workspace is another person.
    langs.from_locale(fake, "T2", "U_DE")  # type: ignore[arg-type]
    assert len(fake.calls) == 5


def test_cached_answers_expire(db: Database, fake: FakeClient) -> None:
    now = [0.0]
    langs = languages(db, ttl_seconds=100, clock=lambda: now[0])
    langs.from_locale(fake, "T1", "U_DE")  # type: ignore[arg-type]
    now[0] = 99.0
    langs.from_locale(fake, "T1", "U_DE")  # type: ignore[arg-type]
    assert len(fake.calls) == 1
    now[0] = 101.0
    langs.from_locale(fake, "T1", "U_DE")  # type: ignore[arg-type]
    assert len(fake.calls) == 2


def test_a_failing_lookup_falls_back_quietly_and_is_not_repeated_at_once(
    db: Database, fake: FakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.locales["U_X"] = TimeoutError("Slack is slow")
    langs = languages(db)
    with caplog.at_level(logging.INFO, "impact.languages"):
        assert langs.for_user(fake, "T1", "U_X", lambda: "nl") == "nl"  # type: ignore[arg-type]
    assert "U_X" in caplog.text and "Slack is slow" in caplog.text
    assert langs.for_user(fake, "T1", "U_X", lambda: "nl") == "nl"  # type: ignore[arg-type]
    assert len(fake.calls) == 1


def test_a_slow_slack_is_waited_for_briefly_and_its_late_answer_kept(db: Database, fake: FakeClient) -> None:
    fake.delay = 0.5
    langs = languages(db)
    started = time.monotonic()
    assert langs.for_user(fake, "T1", "U_DE", lambda: "en", wait=0.1) == "en"  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.4
    # Several requests at once ask Slack once.
    threads = [
        threading.Thread(target=langs.from_locale, args=(fake, "T1", "U_DE"), kwargs={"wait": 0.1})
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.6)
    assert langs.cached("T1", "U_DE") == "de"
    assert len(fake.calls) == 1


def test_the_workspace_language_else_impact_language(db: Database) -> None:
    langs = languages(db)
    with db.session() as session:
        ws = queries.workspace_id(session, "T1")
    assert langs.workspace_language(ws) == "en"
    with db.session() as session:
        queries.set_workspace_language(session, ws, "nl")
    assert langs.workspace_language(ws) == "nl"
    assert langs.workspace_language(None) == "en"


@pytest.mark.parametrize(
    ("locale", "workspace", "default", "expected"),
    [
        ("de-DE", None, "en", "de"),  # the user's locale first
        ("nl-BE", "de", "en", "nl"),
        ("en-US", "nl", "en", "nl"),  # a locale we do not speak: the workspace's language
        ("fr-FR", None, "de", "de"),  # else IMPACT_LANGUAGE
        (TimeoutError("down"), "nl", "en", "nl"),  # Slack cannot say: the workspace's language
    ],
)
def test_a_requests_language_in_order(
    db: Database, fake: FakeClient, locale: Any, workspace: str | None, default: str, expected: str
) -> None:
    fake.locales["U1"] = locale
    settings = Settings(bot_token="xoxb-test", signing_secret="s", database_url=db.url, language=default)
    services = build_services(settings, db, with_scheduler=False)
    with db.session() as session:
        queries.set_workspace_language(session, queries.workspace_id(session, "T111"), workspace)
    context = BoltContext({"team_id": "T111", "user_id": "U1", "client": fake})
    request = build_request(services, context, {"team_id": "T111", "user_id": "U1"})
    assert request.language == expected
    assert request.language == expected and len(fake.calls) == 1  # worked out once


def test_a_request_built_by_hand_keeps_its_language(db: Database) -> None:
    request = Request("T111", "", "U1", "nl", db)
    assert request.language == "nl"
