"""A local stand-in for Slack's Web API, for tests that run the real Bolt app.

Serves ``/api/<method>`` (what ``WebClient(base_url=standin.base_url)`` calls) and
``/respond/<name>`` (response_url posts), records every request, and answers with
plausible Slack-shaped JSON.  Faults (HTTP 429/500, ``ok: false`` errors, delays) can be
injected per method.  An opt-in rate-limit mode (``rate_limit()``, off by default) enforces
Slack's posting limits per channel and per workspace and answers 429 with ``Retry-After``.
Several workspaces: ``grant_code()`` registers an OAuth code that ``oauth.v2.access`` exchanges
for that workspace's bot token (checking the app's ``oauth_app()`` credentials, as Slack does);
a granted token's calls are answered as that workspace's (``auth.test``, views, users, message
``team``), and each call and posted message remembers the token and team behind it.
Run standalone with ``python -m tests.slack_standin --port 8900``.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Answer = dict[str, Any] | Callable[["Call"], dict[str, Any]]


@dataclass
class Call:
    """One request received by the stand-in (an API call or a response_url post)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]  # keys lower-cased
    received_at: float
    path: str = ""
    status: int = 200  # HTTP status answered
    response: dict[str, Any] | None = None  # JSON body answered (None for non-JSON answers)
    retry_after: int | None = None  # Retry-After answered by the rate-limit mode (seconds)
    limited_by: str | None = None  # which limit answered 429: "channel" or "workspace"
    team: str | None = None  # the workspace of the token sent, when the token was granted here

    def json_arg(self, name: str, default: Any = None) -> Any:
        """Return arg ``name`` parsed, whether it was sent as a JSON string or as an object."""
        value = self.args.get(name, default)
        if isinstance(value, str | bytes) and value[:1] in ("{", "[", b"{", b"["):
            return json.loads(value)
        return value

    @property
    def token(self) -> str | None:
        """The token sent, from the ``Authorization: Bearer`` header or a ``token`` arg."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return self.args.get("token")

    @property
    def ok(self) -> bool:
        """True when the request was answered 200 with ``ok: true`` (or a plain "ok")."""
        return self.status == 200 and (self.response is None or bool(self.response.get("ok")))

    @property
    def error(self) -> str | None:
        """The Slack error code answered, if any."""
        return None if self.response is None else self.response.get("error")


@dataclass
class _Rule:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    remaining: int | None = None  # None means forever
    channel: str | None = None
    store: bool = False  # process the call (store the message) before failing the answer
    drop: bool = False  # close the connection without any answer


@dataclass(frozen=True)
class RateLimits:
    """Slack's posting limits, as the opt-in rate-limit mode enforces them.

    A channel (DM channels included: a post to a user ID counts for the DM with them) takes one
    message every ``1 / per_channel`` seconds. A workspace (one bucket per token) takes
    ``per_minute`` messages a minute as a token bucket holding ``burst``, refilled evenly.
    """

    per_channel: float = 1.0
    per_minute: float = 600.0
    burst: int = 20
    methods: tuple[str, ...] = ("chat.postMessage",)


@dataclass(frozen=True)
class Grant:
    """One workspace's installation as Slack knows it: what ``oauth.v2.access`` answers for a
    code, and who a call with its bot token is (``auth.test``)."""

    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    scopes: tuple[str, ...]
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    org_wide: bool = False  # an Enterprise Grid org-wide install: no team in the answer
    installer: str = "UINSTALLER"
    app_id: str = "A111"

    def access_answer(self) -> dict[str, Any]:
        """The body (minus "ok") of a successful ``oauth.v2.access``, shaped as Slack's."""
        enterprise = (
            {"id": self.enterprise_id, "name": self.enterprise_name or self.enterprise_id}
            if self.enterprise_id
            else None
        )
        return {
            "app_id": self.app_id,
            "authed_user": {"id": self.installer},
            "scope": ",".join(self.scopes),
            "token_type": "bot",
            "access_token": self.bot_token,
            "bot_user_id": self.bot_user_id,
            "team": None if self.org_wide else {"id": self.team_id, "name": self.team_name},
            "enterprise": enterprise,
            "is_enterprise_install": self.org_wide,
        }


def _client_credentials(call: Call) -> tuple[str | None, str | None]:
    """(client_id, client_secret) from HTTP Basic auth (slack_sdk) or from the arguments."""
    auth = call.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None
        return user, password
    return call.args.get("client_id"), call.args.get("client_secret")


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    """Decode a JSON or form-urlencoded request body into a dict."""
    if not raw:
        return {}
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json":
        parsed = json.loads(raw.decode("utf-8"))
        return parsed if isinstance(parsed, dict) else {"_body": parsed}
    return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default of 5 resets connections under concurrent tests


class SlackStandin:
    """Fake Slack Web API server on 127.0.0.1 with an ephemeral port (thread-safe)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, log: Callable[[str], None] | None = None
    ) -> None:
        self.host, self.port, self.log = host, port, log
        self.team_id, self.bot_user_id, self.bot_id = "T111", "UBOT", "BBOT"
        self.scopes = ""  # comma-separated; empty means "send no x-oauth-scopes header"
        self.users: dict[str, dict[str, Any]] = {}  # overrides merged into users.info answers
        self.channels: dict[str, dict[str, Any]] = {}  # merged into conversations.info answers
        self.usergroups: list[dict[str, Any]] = []
        self.usergroup_users: dict[str, list[str]] = {}
        self.reactions: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, ts) -> list
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel -> messages, oldest first
        self.views: dict[str, dict[str, Any]] = {}
        # OAuth: the app's credentials (None: no app, every exchange is invalid_client_id),
        # codes not yet exchanged, and every bot token issued, with its workspace.
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.codes: dict[str, Grant] = {}
        self.grants: dict[str, Grant] = {}  # bot token -> its workspace
        self.posted_with: dict[tuple[str, str], str] = {}  # (channel, ts) -> token that posted it
        self._token_seq = itertools.count(1)
        self.calls: list[Call] = []
        self.attempts: list[Call] = []
        self.stored: list[Call] = []  # calls carried out although their answer failed or dropped
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._seq = 0
        self._last_ts = 0
        self._fails: dict[str, list[_Rule]] = {}
        self._errors: dict[str, list[_Rule]] = {}
        self._delays: dict[str, float] = {}
        self._answers: dict[str, Answer] = {}
        self._limits: RateLimits | None = None  # rate-limit mode, off unless rate_limit() is called
        self._channel_free_at: dict[str, float] = {}  # channel -> monotonic time it takes a message
        self._buckets: dict[str, tuple[float, float]] = {}  # token -> (tokens, monotonic time)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> SlackStandin:
        """Start serving in a background daemon thread; returns self."""
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                standin._handle(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per call is logged by _handle instead

        self._stopping.clear()
        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        # a short poll interval keeps stop() (and so each test's teardown) fast
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed answers in flight are cut short."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``, e.g. ``http://127.0.0.1:PORT/api/``."""
        return f"http://{self.host}:{self.port}/api/"

    def response_url(self, name: str = "x") -> str:
        """A response_url whose posts are recorded as method ``"response_url"``."""
        return f"http://{self.host}:{self.port}/respond/{name}"

    # ---- inspection --------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        """Successful calls (``ok: true``) to ``method``, oldest first."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def attempts_to(self, method: str) -> list[Call]:
        """Every request to ``method``, including 429/500 and ``ok: false`` answers."""
        with self._lock:
            return [c for c in self.attempts if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``count`` successful calls to ``method`` exist; AssertionError on timeout."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.calls_to(method)) >= count, timeout):
                got = len(self.calls_to(method))
                raise AssertionError(f"expected {count} {method} call(s), got {got}")
            return self.calls_to(method)

    def clear(self) -> None:
        """Forget recorded calls, attempts, posted messages, views and injected faults."""
        with self._lock:
            for store in (self.calls, self.attempts, self.stored, self.messages, self.views):
                store.clear()
            self.posted_with.clear()
            self.reset_faults()

    # ---- configuration / fault injection ---------------------------------------------------
    def fail(
        self,
        method: str,
        status: int = 429,
        times: int | None = 1,
        retry_after: int = 1,
        *,
        store: bool = False,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (``"*"`` = any) with HTTP ``status``.

        429 answers carry ``Retry-After: retry_after``.  These attempts are recorded in
        ``attempts`` only, never in ``calls``.  ``times=None`` fails forever.  With
        ``store=True`` the call is carried out first (a post lands in the channel), as when
        Slack stores a message and then answers 5xx.
        """
        with self._lock:
            rule = _Rule(status=status, retry_after=retry_after, remaining=times, store=store)
            self._fails.setdefault(method, []).append(rule)

    def drop(self, method: str, times: int | None = 1, *, store: bool = True) -> None:
        """Close the connection of the next ``times`` calls to ``method`` without an answer.

        With ``store=True`` (the default) the call is carried out first: the connection drops
        after Slack took the post, the case where a blind retry doubles it.  With
        ``store=False`` nothing is done, as when the request never arrived.
        """
        with self._lock:
            rule = _Rule(status=0, remaining=times, store=store, drop=True)
            self._fails.setdefault(method, []).append(rule)

    def error(self, method: str, error: str, times: int | None = None, channel: str | None = None) -> None:
        """Answer calls to ``method`` with 200 ``{"ok": false, "error": error}``.

        ``times=None`` means always; ``channel`` restricts the rule to that channel arg.
        """
        with self._lock:
            rule = _Rule(error=error, remaining=times, channel=channel)
            self._errors.setdefault(method, []).append(rule)

    def delay(self, method: str, seconds: float) -> None:
        """Sleep ``seconds`` before answering ``method`` (after recording it); 0 removes."""
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def answer(self, method: str, body: Answer) -> None:
        """Override the answer for ``method``: a dict, or a function of the Call returning one."""
        with self._lock:
            self._answers[method] = body

    def reset_faults(self) -> None:
        """Remove every fail/error/delay rule and answer override."""
        with self._lock:
            for rules in (self._fails, self._errors, self._delays, self._answers):
                rules.clear()

    def rate_limit(
        self,
        per_channel: float = 1.0,
        per_minute: float = 600.0,
        burst: int = 20,
        methods: tuple[str, ...] = ("chat.postMessage",),
    ) -> None:
        """Opt in to enforcing Slack's posting limits on ``methods`` (see ``RateLimits``).

        A call over a limit is answered HTTP 429 ``{"ok": false, "error": "ratelimited"}`` with
        ``Retry-After`` in whole seconds (rounded up, at least 1), is not carried out, and uses
        up nothing. It is recorded in ``attempts`` with ``retry_after`` and ``limited_by`` set.
        """
        with self._lock:
            self._limits = RateLimits(per_channel, per_minute, burst, tuple(methods))
            self._channel_free_at.clear()
            self._buckets.clear()

    def rate_limit_off(self) -> None:
        """Stop enforcing rate limits (the default)."""
        with self._lock:
            self._limits = None

    def rate_limited(self) -> list[Call]:
        """Every call answered 429 by the rate-limit mode, oldest first."""
        with self._lock:
            return [c for c in self.attempts if c.limited_by is not None]

    # ---- workspaces (OAuth) ------------------------------------------------------------------
    def oauth_app(self, client_id: str, client_secret: str) -> None:
        """The app's credentials, which ``oauth.v2.access`` checks before it looks at the code."""
        with self._lock:
            self.client_id, self.client_secret = client_id, client_secret

    def grant_code(
        self,
        code: str,
        team_id: str,
        team_name: str = "",
        enterprise_id: str | None = None,
        *,
        bot_token: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        scopes: tuple[str, ...] | list[str] = ("commands", "chat:write"),
        enterprise_name: str | None = None,
        org_wide: bool = False,
        installer: str = "UINSTALLER",
        app_id: str = "A111",
    ) -> Grant:
        """Register the code Slack would hand the app's redirect URL after someone installs it
        in ``team_id``: one ``oauth.v2.access`` exchanges it (once) for the returned Grant's bot
        token, and from then on that token's calls are answered as ``team_id``'s."""
        with self._lock:
            n = next(self._token_seq)
            grant = Grant(
                team_id=team_id,
                team_name=team_name or team_id,
                bot_token=bot_token or f"xoxb-{team_id}-{n}-standin",
                bot_user_id=bot_user_id or f"UB{team_id}",
                bot_id=bot_id or f"B{team_id}",
                scopes=tuple(scopes),
                enterprise_id=enterprise_id,
                enterprise_name=enterprise_name,
                org_wide=org_wide,
                installer=installer,
                app_id=app_id,
            )
            self.codes[code] = grant
            return grant

    def team_of(self, token: str | None) -> str | None:
        """The workspace a token was granted for here (None for tokens the stand-in never issued)."""
        with self._lock:
            grant = self.grants.get(token or "")
            return grant.team_id if grant is not None else None

    def poster_of(self, channel: str, ts: str) -> str | None:
        """The token that posted the message ``ts`` in ``channel`` (None for seeded messages)."""
        with self._lock:
            return self.posted_with.get((channel, ts))

    def add_message(self, channel: str, text: str, user: str = "U1", **extra: Any) -> str:
        """Seed a message into ``channel``'s history (as if someone posted it); returns its ts."""
        with self._lock:
            ts = extra.pop("ts", None) or self._next_ts()
            msg = {"type": "message", "user": user, "text": text, "ts": ts, **extra}
            self.messages.setdefault(channel, []).append(msg)
            self.messages[channel].sort(key=lambda m: float(m["ts"]))
            return ts

    # ---- internals ------------------------------------------------------------------------
    def _next_ts(self) -> str:
        # Like Slack: the ts is the posting time in microseconds, unique and increasing.
        self._seq += 1
        micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _take(self, rules: dict[str, list[_Rule]], method: str, args: dict) -> _Rule | None:
        """Pop one use of the first rule matching method (or "*") and channel."""
        for key in (method, "*"):
            for rule in rules.get(key, []):
                if rule.channel is not None and args.get("channel") != rule.channel:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        rules[key].remove(rule)
                return rule
        return None

    def _over_limit(self, call: Call) -> tuple[int, str] | None:
        """(Retry-After, limit) when rate-limit mode is on and ``call`` is over a limit; else None.

        Caller holds the lock. A call within the limits is counted against them.
        """
        limits = self._limits
        if limits is None or call.method not in limits.methods:
            return None
        now = time.monotonic()
        channel = str(call.args.get("channel") or "")
        if channel[:1] in ("U", "W"):
            channel = "D" + channel  # as _post: a post to a user lands in the DM with them
        channel_wait = self._channel_free_at.get(channel, 0.0) - now
        workspace = call.token or ""
        rate = limits.per_minute / 60.0
        tokens, stamp = self._buckets.get(workspace, (float(limits.burst), now))
        tokens = min(float(limits.burst), tokens + (now - stamp) * rate)
        workspace_wait = (1.0 - tokens) / rate if tokens < 1.0 else 0.0
        if channel_wait > 0 or workspace_wait > 0:
            self._buckets[workspace] = (tokens, now)
            wait = max(channel_wait, workspace_wait)
            return max(1, math.ceil(wait)), "channel" if channel_wait >= workspace_wait else "workspace"
        self._buckets[workspace] = (tokens - 1.0, now)
        self._channel_free_at[channel] = now + 1.0 / limits.per_channel
        return None

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        split = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        args: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            args.update(_parse_body(req.headers.get("Content-Type", ""), raw))
        except (ValueError, UnicodeDecodeError):
            args["_raw"] = raw
        headers = {k.lower(): v for k, v in req.headers.items()}
        if split.path.startswith("/respond/"):
            method = "response_url"
        elif split.path.startswith("/api/"):
            method = split.path[len("/api/") :]
        else:
            method = split.path.strip("/")
        call = Call(method, args, headers, time.time(), path=split.path)
        extra_headers: dict[str, str] = {}
        with self._changed:
            grant = self.grants.get(call.token or "")
            call.team = grant.team_id if grant is not None else None
            limited = self._over_limit(call)
            fault = None if limited is not None else self._take(self._fails, method, args)
            if fault is not None and fault.store and method != "response_url":
                stored = self._answer(call)  # carried out, but the caller never learns it
                if stored.get("ok"):
                    self.stored.append(Call(method, args, headers, call.received_at, call.path, 200, stored))
            if limited is not None:
                call.status, call.retry_after, call.limited_by = 429, limited[0], limited[1]
                call.response = {"ok": False, "error": "ratelimited"}
                extra_headers["Retry-After"] = str(limited[0])
            elif fault is not None and fault.drop:
                call.status = 0
                call.response = {"ok": False, "error": "connection_dropped"}
            elif fault is not None:
                call.status = fault.status
                err = "ratelimited" if fault.status == 429 else "internal_error"
                call.response = {"ok": False, "error": err}
                if fault.status == 429:
                    extra_headers["Retry-After"] = str(fault.retry_after or 0)
            elif (rule := self._take(self._errors, method, args)) is not None:
                call.response = {"ok": False, "error": rule.error}
            elif method == "response_url":
                call.response = None  # Slack answers response_url posts with plain "ok"
            else:
                call.response = self._answer(call)
            self.attempts.append(call)
            if call.ok:
                self.calls.append(call)
            self._changed.notify_all()
            pause = self._delays.get(method) or self._delays.get("*") or 0.0
        if fault is not None and fault.drop:
            req.close_connection = True
            try:
                req.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if self.log is not None:
            brief = json.dumps(args, default=str)[:200]
            self.log(f"{time.strftime('%H:%M:%S')} {call.status} {method} {brief}")
        if pause:
            self._stopping.wait(pause)
        scopes = ",".join(grant.scopes) if grant is not None else self.scopes
        if scopes:
            # Slack reports the token's granted scopes on every response (Bolt reads auth.test's)
            extra_headers["x-oauth-scopes"] = scopes
        body = b"ok" if call.response is None else json.dumps(call.response).encode()
        try:
            req.send_response(call.status)
            ctype = "text/plain" if call.response is None else "application/json"
            req.send_header("Content-Type", f"{ctype}; charset=utf-8")
            req.send_header("Content-Length", str(len(body)))
            for key, value in extra_headers.items():
                req.send_header(key, value)
            req.end_headers()
            req.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. a test killed it mid-call); the call still counts

    def _answer(self, call: Call) -> dict[str, Any]:
        """Compute the default (or overridden) answer; caller holds the lock."""
        override = self._answers.get(call.method)
        if override is not None:
            return dict(override(call) if callable(override) else override)
        handler = _HANDLERS.get(call.method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return {"ok": True, **handler(self, call)}

    # ---- default answers (each returns the body minus "ok") ----------------------------
    def _who(self, call: Call) -> tuple[str, str, str]:
        """(team, bot user, bot id) of the calling token: its grant's, else the defaults."""
        grant = self.grants.get(call.token or "")
        if grant is None:
            return self.team_id, self.bot_user_id, self.bot_id
        return grant.team_id, grant.bot_user_id, grant.bot_id

    def _auth_test(self, call: Call) -> dict[str, Any]:
        grant = self.grants.get(call.token or "")
        if grant is None:
            return {
                "url": "https://example.slack.com/",
                "team": "Example",
                "user": "impact",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        answer: dict[str, Any] = {
            "url": f"https://{grant.team_id.lower()}.slack.com/",
            "team": grant.team_name,
            "user": "impact",
            "team_id": grant.team_id,
            "user_id": grant.bot_user_id,
            "bot_id": grant.bot_id,
            "is_enterprise_install": grant.org_wide,
        }
        if grant.enterprise_id:
            answer["enterprise_id"] = grant.enterprise_id
        return answer

    def _oauth_access(self, call: Call) -> dict[str, Any]:
        """Exchange a granted code for its bot token, once, as Slack checks it: the client id,
        then its secret, then the code."""
        client_id, client_secret = _client_credentials(call)
        if self.client_id is None or client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant = self.codes.pop(str(call.args.get("code") or ""), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}  # unknown, or already exchanged
        self.grants[grant.bot_token] = grant
        return grant.access_answer()

    def _message(self, a: dict[str, Any], call: Call, ts: str) -> dict[str, Any]:
        team, bot_user, bot_id = self._who(call)
        msg: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "user": bot_user,
            "bot_id": bot_id,
            "team": team,
            "text": a.get("text", ""),
        }
        for key in ("blocks", "attachments", "metadata"):
            if a.get(key):
                msg[key] = call.json_arg(key)
        if a.get("thread_ts"):
            msg["thread_ts"] = a["thread_ts"]
        return msg

    def _post(self, call: Call) -> dict[str, Any]:
        a = call.args
        if not a.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (a.get("text") or a.get("blocks") or a.get("attachments")):
            return {"ok": False, "error": "no_text"}
        if call.method == "chat.postEphemeral":
            return {"message_ts": self._next_ts()}
        # posting to a user id lands in the DM with them, as on Slack (same id as conversations.open)
        ch = "D" + a["channel"] if a["channel"][:1] in ("U", "W") else a["channel"]
        msg = self._message(a, call, self._next_ts())
        self.messages.setdefault(ch, []).append(msg)
        if call.token:
            self.posted_with[(ch, msg["ts"])] = call.token
        return {"channel": ch, "ts": msg["ts"], "message": msg}

    def _not_its_message(self, call: Call) -> bool:
        """A workspace's bot changing a message another bot posted (Slack refuses that)."""
        if call.team is None:
            return False  # tokens the stand-in did not grant keep the lenient default
        ch, ts = call.args.get("channel", ""), call.args.get("ts", "")
        old = next((m for m in self.messages.get(ch, []) if m["ts"] == ts), None)
        return old is not None and "bot_id" in old and old["bot_id"] != self._who(call)[2]

    def _update(self, call: Call) -> dict[str, Any]:
        if self._not_its_message(call):
            return {"ok": False, "error": "cant_update_message"}
        a = call.args
        ch, ts = a.get("channel", ""), a.get("ts", "")
        msg = self._message(a, call, ts)
        for old in self.messages.get(ch, []):
            if old["ts"] == ts:
                old.update({k: v for k, v in msg.items() if k in a or k == "text"})
                msg = old
        return {"channel": ch, "ts": ts, "text": msg.get("text", ""), "message": msg}

    def _delete(self, call: Call) -> dict[str, Any]:
        if self._not_its_message(call):
            return {"ok": False, "error": "cant_delete_message"}
        ch, ts = call.args.get("channel", ""), call.args.get("ts", "")
        self.messages[ch] = [m for m in self.messages.get(ch, []) if m["ts"] != ts]
        return {"channel": ch, "ts": ts}

    def _history(self, call: Call) -> dict[str, Any]:
        a = call.args
        oldest, latest = float(a.get("oldest") or 0), float(a.get("latest") or 1e12)
        incl = _truthy(a.get("inclusive"))
        msgs = self.messages.get(a.get("channel", ""), [])
        if call.method == "conversations.replies":
            # parent first, then replies, oldest first (as Slack does)
            keep = [m for m in msgs if m.get("thread_ts", m["ts"]) == a.get("ts")]
        else:
            # top-level messages only, newest first
            keep = [
                m
                for m in reversed(msgs)
                if (oldest <= float(m["ts"]) if incl else oldest < float(m["ts"]))
                and float(m["ts"]) < latest
                and m.get("thread_ts", m["ts"]) == m["ts"]
            ]
        meta = _truthy(a.get("include_all_metadata"))
        out = [m if meta else {k: v for k, v in m.items() if k != "metadata"} for m in keep]
        limit = int(a.get("limit") or 100)
        return {
            "messages": out[:limit],
            "has_more": len(out) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    def _view(self, call: Call) -> dict[str, Any]:
        view = dict(call.json_arg("view") or {})
        vid = call.args.get("view_id") or next(
            (
                k
                for k, v in self.views.items()
                if call.args.get("external_id") and v.get("external_id") == call.args["external_id"]
            ),
            None,
        )
        if vid is None:
            self._seq += 1
            vid = f"V{self._seq:08d}"
        team, _, bot_id = self._who(call)
        view.update(
            id=vid,
            team_id=team,
            hash=f"h{self._seq}",
            app_id="A111",
            bot_id=bot_id,
            state={"values": {}},
        )
        view.setdefault("type", "home" if call.method == "views.publish" else "modal")
        view.setdefault("private_metadata", "")
        self.views[vid] = view
        return {"view": view}

    def _user(self, call: Call) -> dict[str, Any]:
        uid = call.args.get("user", "")
        user = {
            "id": uid,
            "team_id": self._who(call)[0],
            "name": uid.lower(),
            "real_name": uid,
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "deleted": False,
            "tz": "UTC",
            "locale": "en-US",
            "profile": {"display_name": uid},
        }
        return {"user": {**user, **self.users.get(uid, {})}}

    def _channel(self, call: Call) -> dict[str, Any]:
        ch = call.args.get("channel", "")
        info = {
            "id": ch,
            "name": ch.lower(),
            "is_channel": ch[:1] == "C",
            "is_im": ch[:1] == "D",
            "is_private": ch[:1] == "G",
            "is_member": True,
            "is_archived": False,
        }
        return {"channel": {**info, **self.channels.get(ch, {})}}

    def _reactions(self, call: Call) -> dict[str, Any]:
        ch, ts = call.args.get("channel", ""), call.args.get("timestamp", "")
        msg = next((m for m in self.messages.get(ch, []) if m["ts"] == ts), {"ts": ts})
        return {
            "type": "message",
            "channel": ch,
            "message": {**msg, "reactions": self.reactions.get((ch, ts), [])},
        }


_HANDLERS: dict[str, Callable[[SlackStandin, Call], dict[str, Any]]] = {
    "api.test": lambda s, c: {"args": c.args},
    "auth.test": SlackStandin._auth_test,
    "oauth.v2.access": SlackStandin._oauth_access,
    "chat.postMessage": SlackStandin._post,
    "chat.postEphemeral": SlackStandin._post,
    "chat.update": SlackStandin._update,
    "chat.delete": SlackStandin._delete,
    "chat.getPermalink": lambda s, c: {
        "channel": c.args.get("channel"),
        "permalink": f"https://example.slack.com/archives/{c.args.get('channel')}"
        f"/p{str(c.args.get('message_ts', '')).replace('.', '')}",
    },
    "views.open": SlackStandin._view,
    "views.update": SlackStandin._view,
    "views.push": SlackStandin._view,
    "views.publish": SlackStandin._view,
    "conversations.open": lambda s, c: {
        "channel": {"id": c.args.get("channel") or "D" + str(c.args.get("users", "")).split(",")[0]}
    },
    "conversations.join": lambda s, c: {"channel": {"id": c.args.get("channel")}},
    "conversations.history": SlackStandin._history,
    "conversations.replies": SlackStandin._history,
    "conversations.info": SlackStandin._channel,
    "users.info": SlackStandin._user,
    "usergroups.list": lambda s, c: {"usergroups": list(s.usergroups)},
    "usergroups.users.list": lambda s, c: {
        "users": list(s.usergroup_users.get(c.args.get("usergroup", ""), []))
    },
    "reactions.get": SlackStandin._reactions,
    "apps.connections.open": lambda s, c: {"url": f"ws://{s.host}:{s.port}/link/?ticket=t"},
}


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in forever, printing base_url then one line per call."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--scopes", default="", help="comma-separated x-oauth-scopes to report")
    parser.add_argument(
        "--rate-limit",
        action="store_true",
        help="enforce 1 message/s per channel and 600/min per workspace (burst 20), answering 429",
    )
    opts = parser.parse_args(argv)
    standin = SlackStandin(opts.host, opts.port, log=lambda line: print(line, flush=True))
    standin.scopes = opts.scopes
    if opts.rate_limit:
        standin.rate_limit()
    standin.start()
    print(standin.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
