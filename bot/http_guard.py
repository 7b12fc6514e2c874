"""The door of `POST /slack/events`: forged requests get 401, malformed ones 400, never a 500.

Bolt parses a request before it verifies anything and raises on a body it cannot read (bad
JSON in `payload`, a non-numeric timestamp header), which a WSGI server answers with 500.
This guard verifies the signature first (so nothing unsigned is ever parsed), then checks
that the body has the shape Slack sends, and answers 400 for anything else. A request that
still makes Bolt raise is answered 400 and logged, never 500.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.signature import SignatureVerifier

from bot.logs import set_about

log = logging.getLogger("impact.http")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_BODY_BYTES = 1_000_000  # Slack's largest payloads (a modal's state) are far smaller
MAX_AGE_SECONDS = 60 * 5  # Slack's replay window


def _answer(start_response: Callable[..., Any], status: str, message: str) -> list[bytes]:
    body = message.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def shape_problem(body: str, content_type: str) -> str | None:
    """Why this body is not something Slack sends to an app, or None when it looks right."""
    if not body:
        return "empty body"
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json" or body.startswith("{"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return "body is not JSON"
        return None if isinstance(parsed, dict) else "JSON body is not an object"
    fields = parse_qsl(body, keep_blank_values=True)
    if not fields:
        return "body has no fields"
    values = dict(fields)
    if "payload" in values:
        try:
            payload = json.loads(values["payload"])
        except ValueError:
            return "payload is not JSON"
        if not isinstance(payload, dict):
            return "payload is not a JSON object"
        if not isinstance(payload.get("type"), str):
            return "payload has no type"
        return None
    if "command" in values and not values["command"].startswith("/"):
        return "command does not start with /"
    return None


def guard(inner: WSGIApp, signing_secret: str, path: str = "/slack/events") -> WSGIApp:
    """Wrap Bolt's WSGI handler: 401 for forged or stale, 400 for malformed, never 500."""
    verifier = SignatureVerifier(signing_secret)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        set_about()  # the server's threads are reused: forget what the previous request was about
        if environ.get("PATH_INFO") != path or environ.get("REQUEST_METHOD") != "POST":
            return inner(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _answer(start_response, "400 Bad Request", "bad Content-Length")
        if length > MAX_BODY_BYTES:
            return _answer(start_response, "413 Payload Too Large", "request too large")
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _answer(start_response, "400 Bad Request", "body is not UTF-8")
        stamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        if not (stamp.isascii() and stamp.isdigit()):
            log.warning("rejected a request with timestamp header %r", stamp[:40])
            return _answer(start_response, "400 Bad Request", "bad timestamp header")
        if abs(time.time() - int(stamp)) > MAX_AGE_SECONDS or not verifier.is_valid(body, stamp, signature):
            log.warning("rejected a forged or stale request")
            return _answer(start_response, "401 Unauthorized", "invalid signature")
        problem = shape_problem(body, environ.get("CONTENT_TYPE") or "")
        if problem is not None:
            log.warning("rejected a signed but malformed request: %s", problem)
            return _answer(start_response, "400 Bad Request", problem)
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        try:
            return list(inner(environ, start_response))
        except Exception as e:  # noqa: BLE001 - whatever Bolt raises on odd input is a 400
            log.warning("rejected a request Bolt could not read: %r", e)
            return _answer(start_response, "400 Bad Request", "malformed request")

    return application
