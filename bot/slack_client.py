"""Web API clients that never repeat a call Slack may already have carried out.

slack_sdk's stock retry handlers resend any request whose connection dropped or that got a
5xx. For `chat.postMessage` that doubles a post Slack stored before the answer was lost. Here
a request is resent only when it provably did not arrive (refused connection, HTTP 429), or
when resending it cannot change anything (reads such as `users.info`, and updates such as
`views.publish`). Posts whose outcome is unknown are settled by `bot.delivery`, which looks
for the post before trying again.
"""

from __future__ import annotations

import logging
import socket
import time
from http.client import HTTPException, RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
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
    for key, values in (response.headers or {}).items():
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


class SafeRespond(Respond):
    """Bolt's `respond`, with a deadline, no blind resend, and failures logged, never raised.

    A response_url post that fails after the ack cannot be shown to the user any other way;
    raising would only turn it into a listener error. It is logged once with the reason.
    """

    def __init__(self, *, response_url: str | None, team: str = "") -> None:
        super().__init__(response_url=response_url)
        self.team = team

    def __call__(self, text: str | dict[str, Any] = "", **kwargs: Any) -> WebhookResponse:  # type: ignore[override]
        url = self.response_url or ""
        if not url:
            log.warning("no response_url to answer team %s", self.team)
            return WebhookResponse(url=url, status_code=0, body="no response_url", headers={})
        webhook = WebhookClient(url=url, timeout=int(CALL_TIMEOUT), retry_handlers=retry_handlers())
        try:
            if isinstance(text, dict):
                return webhook.send_dict(text)
            message = {"text": text, **{k: v for k, v in kwargs.items() if v is not None}}
            return webhook.send_dict(_to_dicts(message))
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
