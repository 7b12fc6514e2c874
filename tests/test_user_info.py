"""One users.info answer serves both questions asked about a person: manager rights and language."""

from __future__ import annotations

from bot.services import build_services
from storage.db import Database
from tests.conftest import make_settings
from tests.slack_standin import SlackStandin


def test_one_users_info_answer_serves_the_manager_check_and_the_language(
    db: Database, standin: SlackStandin
) -> None:
    services = build_services(make_settings(standin, db.url, managers=frozenset()), db, with_scheduler=False)
    client = services.clients.base
    standin.users["UADMIN"] = {"is_admin": True, "locale": "de-DE"}
    standin.users["UREP"] = {"locale": "nl-NL"}
    # The manager check first: its answer also tells the language.
    assert services.managers.is_manager(client, "T111", "UADMIN") is True
    assert services.languages.for_user(client, "T111", "UADMIN", lambda: "en") == "de"
    # The language first: its answer also tells whether the person is an admin.
    assert services.languages.for_user(client, "T111", "UREP", lambda: "en") == "nl"
    assert services.managers.is_manager(client, "T111", "UREP") is False
    asked = [c.args.get("user") for c in standin.calls_to("users.info")]
    assert sorted(asked) == ["UADMIN", "UREP"]  # once each, not twice
