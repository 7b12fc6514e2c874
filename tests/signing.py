"""Build signed requests the way Slack sends them to an app's ``/slack/events`` endpoint.

Bodies are byte-for-byte what gets signed: build the body, then sign that exact string.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

DEFAULT_RESPONSE_URL = "https://hooks.slack.com/commands/T111/1111/abcdef"
API_APP_ID = "A111"
VERIFICATION_TOKEN = "legacy-verification-token"  # Slack still sends the deprecated token


def signed_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, Any]:
    """Headers Slack sends with ``body``: v0 signature, timestamp and content type."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body) or ""
    ctype = "application/json" if body.lstrip().startswith("{") else ("application/x-www-form-urlencoded")
    return {
        "Content-Type": ctype,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def _user(user_id: str, team_id: str, user_name: str = "ann") -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def _team(team_id: str) -> dict[str, str]:
    return {"id": team_id, "domain": "example"}


def command_body(
    command: str = "/impact",
    text: str = "",
    user_id: str = "U1",
    team_id: str = "T111",
    channel_id: str = "C1",
    response_url: str = DEFAULT_RESPONSE_URL,
    trigger_id: str = "trig-1",
    user_name: str = "ann",
    locale: str | None = None,
) -> str:
    """A slash-command payload, form-urlencoded as Slack posts it."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "example",
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else "general",
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    if locale is not None:
        fields["locale"] = locale
    return urlencode(fields)


def interactive_body(payload: dict[str, Any]) -> str:
    """Interactivity body: ``payload=<urlencoded JSON>`` as Slack posts it."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def block_action_payload(
    action_id: str,
    value: str,
    user_id: str = "U1",
    team_id: str = "T111",
    channel_id: str | None = "C1",
    response_url: str = DEFAULT_RESPONSE_URL,
    trigger_id: str = "trig-1",
    block_id: str = "b",
    container: dict[str, Any] | None = None,
    action_type: str = "button",
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for one action.

    Defaults to a button on a channel message; pass ``view`` (and ``channel_id=None``) for
    an action in a modal or the Home tab.
    """
    message_ts = (message or {}).get("ts", "1700000000.000100")
    if container is None:
        container = (
            {"type": "view", "view_id": view.get("id", "V1")}
            if view is not None
            else {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
        )
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": f"{int(time.time())}.000001",
    }
    if action_type == "static_select":
        action["selected_option"] = {"value": value, "text": {"type": "plain_text", "text": value}}
    else:
        action["value"] = value
        action["text"] = {"type": "plain_text", "text": value}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
        "state": {"values": {}},
    }
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": "general"}
        payload["message"] = message or {"type": "message", "ts": message_ts, "text": ""}
        payload["response_url"] = response_url
    if view is not None:
        payload["view"] = view
    return payload


def _state(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Expand ``{"block": {"action": "text"}}`` shorthand to plain_text_input values."""
    return {
        block: {
            action: v if isinstance(v, dict) else {"type": "plain_text_input", "value": v}
            for action, v in actions.items()
        }
        for block, actions in values.items()
    }


def view_submission_payload(
    callback_id: str,
    state_values: dict[str, dict[str, Any]],
    private_metadata: str = "",
    user_id: str = "U1",
    team_id: str = "T111",
    view_id: str = "V1",
    trigger_id: str = "trig-1",
) -> dict[str, Any]:
    """A ``view_submission`` payload.

    ``state_values`` is ``{block_id: {action_id: element_state}}``; a plain string element
    state is shorthand for ``{"type": "plain_text_input", "value": <string>}``.
    """
    return {
        "type": "view_submission",
        "team": _team(team_id),
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": _state(state_values)},
            "hash": "1700000000.abc",
            "title": {"type": "plain_text", "text": "Impact"},
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": API_APP_ID,
            "external_id": "",
            "bot_id": "BBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def message_action_payload(
    callback_id: str,
    message_text: str,
    message_ts: str,
    channel_id: str = "C1",
    user_id: str = "U1",
    team_id: str = "T111",
    trigger_id: str = "trig-1",
    response_url: str = DEFAULT_RESPONSE_URL,
    message_user: str = "U2",
) -> dict[str, Any]:
    """A ``message_action`` (message shortcut) payload on a message by ``message_user``."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{int(time.time())}.000001",
        "team": _team(team_id),
        "user": _user(user_id, team_id),
        "channel": {"id": channel_id, "name": "general"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": message_ts,
        "message": {"type": "message", "user": message_user, "text": message_text, "ts": message_ts},
    }


def event_body(
    event: dict[str, Any],
    team_id: str = "T111",
    event_id: str = "Ev1",
    bot_user_id: str = "UBOT",
) -> str:
    """An Events API ``event_callback`` envelope around ``event``, as JSON."""
    return json.dumps(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "api_app_id": API_APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{event_id}",
        }
    )


def url_verification_body(challenge: str = "challenge-1") -> str:
    """The ``url_verification`` handshake body Slack sends when the events URL is set."""
    return json.dumps({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"})


def post(url: str, body: str, headers: dict[str, Any], timeout: float = 10.0) -> tuple[int, str]:
    """POST ``body`` to ``url``; returns (status, body text) for any HTTP status."""
    req = urllib.request.Request(url, data=body.encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def post_signed(
    url: str, secret: str, body: str, timestamp: int | None = None, timeout: float = 10.0
) -> tuple[int, str]:
    """Sign ``body`` with ``secret`` and POST it to ``url``; returns (status, body text)."""
    return post(url, body, signed_headers(secret, body, timestamp), timeout=timeout)
