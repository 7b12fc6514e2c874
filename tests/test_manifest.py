"""The manifest creates the whole app, with exactly the bot scopes the code's calls need."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.manifest import bot_scopes
from tests.slack_spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
# Scopes needed by things other than Web API calls.
NON_CALL_SCOPES = {
    "commands": "slash command and shortcut",
    "reactions:read": "reaction_added / reaction_removed events",
}
# conversations.history needs the history scope of each channel type the bot reads.
HISTORY_SCOPES = {"channels:history", "groups:history"}


def manifest() -> dict:  # type: ignore[type-arg]
    return json.loads((ROOT / "manifest.json").read_text())


def called_methods() -> set[str]:
    """Web API methods the code calls as client.method_name(...)."""
    methods: set[str] = set()
    for path in list((ROOT / "bot").rglob("*.py")) + list((ROOT / "handlers").rglob("*.py")):
        for name in re.findall(r"(?<![\w.])client\.([a-z]+(?:_[a-zA-Z]+)+)\(", path.read_text()):
            methods.add(name.replace("_", ".", 1) if name.count("_") == 1 else _dotted(name))
    return methods


def _dotted(name: str) -> str:
    # usergroups_users_list -> usergroups.users.list; chat_postMessage -> chat.postMessage
    return name.replace("_", ".")


def spec_scopes(method: str) -> set[str]:
    spec = load_spec()
    op = spec["paths"][f"/{method}"]
    body = next(iter(op.values()))
    text = json.dumps(body.get("security", [])) + json.dumps(body.get("parameters", []))
    return set(re.findall(r"`([a-z]+:[a-z.:]+)`", text)) | {
        s for entry in body.get("security", []) for v in entry.values() for s in v
    }


def test_manifest_scopes_equal_code_scopes() -> None:
    granted = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert granted == set(bot_scopes())
    needed: set[str] = set(NON_CALL_SCOPES)
    for method in called_methods():
        scopes = spec_scopes(method)
        bot = {s for s in scopes if s != "none" and not s.startswith(("admin", "identify", "client", "bot"))}
        if method == "conversations.history":
            assert bot & HISTORY_SCOPES
            needed |= HISTORY_SCOPES
        elif bot:
            # The spec lists alternatives (bot, user); the bot needs one of them.
            assert bot & granted, f"{method} needs one of {sorted(bot)}"
            needed |= bot & granted
    assert granted == needed, f"unneeded: {sorted(granted - needed)}; missing: {sorted(needed - granted)}"


def test_manifest_has_command_shortcut_home_events_socket_mode() -> None:
    m = manifest()
    assert [c["command"] for c in m["features"]["slash_commands"]] == ["/impact"]
    assert m["features"]["slash_commands"][0]["should_escape"] is True
    [shortcut] = m["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", "save_customer_voice")
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True
    assert set(m["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_uninstalled",
        "reaction_added",
        "reaction_removed",
        "tokens_revoked",
    }
