"""Web API clients that never repeat a call Slack may already have carried out.

slack_sdk's stock retry handlers resend any request whose connection dropped or that got a
5xx. For `chat.postMessage` that doubles a post Slack stored before the answer was lost. Here
a request is resent only when it provably did not arrive (refused connection, HTTP 429), or
when resending it cannot change anything (reads such as `users.info`, and updates such as
`views.publish`). Posts whose outcome is unknown are settled by `bot.delivery`, which looks
for the post before trying again.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from http.client import HTTPConnection, HTTPException, HTTPSConnection, RemoteDisconnected
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.internal_utils import get_user_agent
from slack_sdk.webhook import WebhookClient, WebhookResponse

log = logging.getLogger("impact.slack")

# Seconds a single Web API call may take (connect, and each read) before it is given up.
CALL_TIMEOUT = 10.0
# A question asked before an ack must leave time to answer within Slack's 3 seconds.
QUICK_TIMEOUT = 1.2
# A 429 asking to wait longer than this is not waited for inside a user's request.
MAX_RATE_LIMIT_WAIT = 30.0

# Methods whose repetition changes nothing: reads, and writes that set a state.
IDEMPOTENT = frozenset(
    {
        "api.test",
        "auth.test",
        "chat.delete",
        "chat.getPermalink",
        "chat.update",
        "conversations.history",
        "conversations.info",
        "conversations.replies",
        "reactions.get",
        "team.info",
        "usergroups.list",
        "usergroups.users.list",
        "users.info",
        "views.publish",
        "views.update",
    }
)


def api_method(url: str) -> str:
    """'chat.postMessage' from 'https://slack.com/api/chat.postMessage?x=y'."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def never_arrived(error: BaseException | None) -> bool:
    """True when the request provably did not reach Slack: the connection was never made."""
    reason = error.reason if isinstance(error, URLError) else error
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def connection_error(error: BaseException | None) -> bool:
    """A dropped, reset, timed-out or refused connection (not an HTTP answer)."""
    return isinstance(error, URLError | OSError | HTTPException | RemoteDisconnected)


class UnsentOrIdempotentRetryHandler(RetryHandler):
    """Retries connection failures and 5xx, but only where a retry cannot double anything."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        idempotent = api_method(request.url) in IDEMPOTENT
        if response is not None:
            return idempotent and response.status_code >= 500
        if never_arrived(error):
            return True
        return idempotent and connection_error(error)


class BoundedRateLimitRetryHandler(RetryHandler):
    """Waits out HTTP 429 (Slack did not carry the call out), unless asked to wait too long."""

    def __init__(self, max_retry_count: int = 5, max_wait: float = MAX_RATE_LIMIT_WAIT) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429 and retry_after(response) <= self.max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = retry_after(response) if response is not None else 1.0
        state.next_attempt_requested = True
        state.increment_current_attempt()
        time.sleep(wait)


def retry_after(response: HttpResponse) -> float:
    """Seconds Slack asks us to wait (Retry-After), 1 when it does not say."""
    return retry_after_header(response.headers)


def retry_after_header(headers: Mapping[str, Any] | None) -> float:
    """Retry-After from response headers (values as strings or lists of them), 1 when absent."""
    for key, values in (headers or {}).items():
        if key.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def retry_handlers(max_wait: float = MAX_RATE_LIMIT_WAIT) -> list[RetryHandler]:
    """Retries that never repeat a call Slack may have carried out."""
    return [
        BoundedRateLimitRetryHandler(max_retry_count=5, max_wait=max_wait),
        UnsentOrIdempotentRetryHandler(max_retry_count=3),
    ]


def make_client(api_url: str, token: str | None, *, timeout: float = CALL_TIMEOUT) -> WebClient:
    """A Web API client honouring SLACK_API_URL, with a deadline and safe retries."""
    return WebClient(
        token=token, base_url=api_url, timeout=int(max(1, timeout)), retry_handlers=retry_handlers()
    )


def quick_client(client: WebClient) -> WebClient:
    """The same token, for one question asked before an ack: a short deadline, no retries."""
    quick = WebClient(token=client.token, base_url=client.base_url, timeout=1, retry_handlers=[])
    quick.timeout = QUICK_TIMEOUT  # type: ignore[assignment]  # urllib takes fractions of seconds
    return quick


# response_url posts reuse keep-alive connections (ResponseUrlPool). A pooled connection idle
# longer than this is closed rather than reused: servers close idle connections after a while,
# and a post written into a connection the server has just closed cannot be told apart from one
# it received, so it could not be sent again. Busy, a connection is reused within milliseconds.
POOL_IDLE_SECONDS = 15.0
POOL_MAX_IDLE_PER_HOST = 16  # idle connections kept per host; more are closed
REFUSED_RETRIES = 3  # a connection refused (or a name not resolved): the post never left
RATE_LIMIT_RETRIES = 5  # HTTP 429: Slack did not carry the post out


class ResponseUrlPool:
    """POSTs to response_urls over keep-alive connections, shared by the listener threads.

    The same rules as the Web API clients (see `retry_handlers`): each connect and each read
    has a deadline of `timeout` seconds; a post is sent again only when it provably did not
    arrive (the connection was refused or the host not resolved, before anything was written)
    or Slack answered 429 (after its Retry-After, up to MAX_RATE_LIMIT_WAIT). A connection that
    drops after the post was written is closed and the post is not resent: Slack may have
    shown it. Before an idle connection is reused, it is checked for a close by the server
    (readable with nothing owed) and dropped if so, and one idle too long is never reused.
    Behind an HTTP(S) proxy from the environment, slack_sdk's WebhookClient posts instead.
    """

    def __init__(
        self,
        *,
        timeout: float = CALL_TIMEOUT,
        idle_seconds: float = POOL_IDLE_SECONDS,
        max_idle: int = POOL_MAX_IDLE_PER_HOST,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.idle_seconds = idle_seconds
        self.max_idle = max_idle
        self.clock = clock
        self.sleep = sleep
        self.opened = 0  # connections opened so far (tests and benchmarks read it)
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str, int], list[tuple[HTTPConnection, float]]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._proxied: dict[tuple[str, str], bool] = {}
        self._headers = {"Content-Type": "application/json;charset=utf-8", "User-Agent": get_user_agent()}

    def post(self, url: str, message: dict[str, Any]) -> WebhookResponse:
        """POST `message` as JSON to `url`; Slack's answer, whatever its status. Raises on a
        transport failure (after the retries that cannot double a post)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) response_url: {url[:100]!r}")
        proxied = self._proxied.get((parts.scheme, parts.hostname))
        if proxied is None:  # the environment is read once per host, not on every post
            proxied = self._proxied[(parts.scheme, parts.hostname)] = _proxied(parts.scheme, parts.hostname)
        if proxied:
            webhook = WebhookClient(url=url, timeout=int(self.timeout), retry_handlers=retry_handlers())
            return webhook.send_dict(message)
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = json.dumps(message).encode("utf-8")
        refused = limited = 0
        while True:
            conn = self._checkout(key)
            if conn is None:
                conn = self._new(key)
                try:
                    conn.connect()
                except (ConnectionRefusedError, socket.gaierror):
                    conn.close()
                    if refused >= REFUSED_RETRIES:
                        raise
                    self.sleep(0.5 * 2**refused)  # nothing was written: trying again cannot double
                    refused += 1
                    continue
                except BaseException:
                    conn.close()
                    raise
            try:
                conn.request("POST", target, body=body, headers=self._headers)
                answer = conn.getresponse()
                data = answer.read()
            except BaseException:
                conn.close()  # the post may have arrived: never resent on this or another connection
                raise
            if answer.will_close:
                conn.close()
            else:
                self._checkin(key, conn)
            headers = dict(answer.getheaders())
            response = WebhookResponse(
                url=url, status_code=answer.status, body=data.decode("utf-8", "replace"), headers=headers
            )
            if answer.status == 429 and limited < RATE_LIMIT_RETRIES:
                wait = _retry_after_header(headers)
                if wait <= MAX_RATE_LIMIT_WAIT:
                    self.sleep(wait)
                    limited += 1
                    continue
            return response

    def _new(self, key: tuple[str, str, int]) -> HTTPConnection:
        scheme, host, port = key
        self.opened += 1
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            return HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl)
        return HTTPConnection(host, port, timeout=self.timeout)

    def _checkout(self, key: tuple[str, str, int]) -> HTTPConnection | None:
        """An idle connection to this host that is still open, or None."""
        now = self.clock()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn, since = idle.pop()
            if now - since <= self.idle_seconds and not _closed_by_peer(conn):
                return conn
            conn.close()

    def _checkin(self, key: tuple[str, str, int], conn: HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle:
                idle.append((conn, self.clock()))
                return
        conn.close()

    def idle_connections(self) -> int:
        """How many open connections wait in the pool for the next post."""
        with self._lock:
            return sum(len(conns) for conns in self._idle.values())

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn, _ in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()


def _closed_by_peer(conn: HTTPConnection) -> bool:
    """True when an idle connection's socket is gone or readable: the server closed it (EOF)
    or sent what nobody asked for. Either way it must not carry a post."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _proxied(scheme: str, host: str) -> bool:
    """True when the environment routes this URL through a proxy (HTTPS_PROXY, NO_PROXY, ...)."""
    return bool(getproxies().get(scheme)) and not proxy_bypass(host)


def _retry_after_header(headers: dict[str, str]) -> float:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


class SafeRespond(Respond):
    """Bolt's `respond`, with a deadline, no blind resend, and failures logged, never raised.

    A response_url post that fails after the ack cannot be shown to the user any other way;
    raising would only turn it into a listener error. It is logged once with the reason.
    Posts go over `pool`, the process's keep-alive connections (Services.response_urls);
    without one, over a connection of its own, closed after the answer.
    """

    def __init__(
        self, *, response_url: str | None, team: str = "", pool: ResponseUrlPool | None = None
    ) -> None:
        super().__init__(response_url=response_url)
        self.team = team
        self.pool = pool or ResponseUrlPool(max_idle=0)

    def __call__(self, text: str | dict[str, Any] = "", **kwargs: Any) -> WebhookResponse:  # type: ignore[override]
        url = self.response_url or ""
        if not url:
            log.warning("no response_url to answer team %s", self.team)
            return WebhookResponse(url=url, status_code=0, body="no response_url", headers={})
        try:
            if isinstance(text, dict):
                return self.pool.post(url, text)
            message = {"text": text, **{k: v for k, v in kwargs.items() if v is not None}}
            return self.pool.post(url, _to_dicts(message))
        except Exception as e:  # noqa: BLE001 - any transport failure is logged, not raised
            log.warning("could not answer team %s through response_url: %r", self.team, e)
            return WebhookResponse(url=url, status_code=0, body=repr(e), headers={})


def _to_dicts(message: dict[str, Any]) -> dict[str, Any]:
    """Block Kit model objects as plain dicts, as Slack expects them."""
    out = dict(message)
    for key in ("blocks", "attachments"):
        if out.get(key) is not None:
            out[key] = [b.to_dict() if hasattr(b, "to_dict") else b for b in out[key]]
    return out
