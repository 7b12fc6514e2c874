"""The response_url pool against real sockets: it sends a post again only when it provably did
not arrive (connection refused) or Slack said 429, never after a 5xx, and never reuses a
connection the server has closed or one idle too long."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bot.slack_client import REFUSED_RETRIES, ResponseUrlPool
from tests.slack_standin import SlackStandin


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_429_is_waited_out_and_sent_again(standin: SlackStandin) -> None:
    waits: list[float] = []
    pool = ResponseUrlPool(sleep=waits.append)
    standin.fail("response_url", 429, times=1, retry_after=3)
    answer = pool.post(standin.response_url("r"), {"text": "hi"})
    assert answer.status_code == 200 and waits == [3.0]
    assert [c.status for c in standin.attempts_to("response_url")] == [429, 200]


def test_a_5xx_is_not_sent_again(standin: SlackStandin) -> None:
    pool = ResponseUrlPool(sleep=lambda s: None)
    standin.fail("response_url", 500, times=1)
    assert pool.post(standin.response_url("r"), {"text": "hi"}).status_code == 500
    assert len(standin.attempts_to("response_url")) == 1


def test_a_refused_connection_is_tried_again_a_few_times_then_given_up() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once the socket is closed
    waits: list[float] = []
    pool = ResponseUrlPool(sleep=waits.append)
    with pytest.raises(ConnectionRefusedError):
        pool.post(f"http://127.0.0.1:{port}/respond/r", {"text": "hi"})
    assert pool.opened == REFUSED_RETRIES + 1 and waits == [0.5, 1.0, 2.0]


@pytest.fixture
def closing_server() -> Iterator[tuple[int, list[bytes], threading.Event]]:
    """An HTTP/1.1 server that answers one request per connection, keep-alive by the headers,
    and then closes the connection, as a server closes one it thinks idle."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    requests: list[bytes] = []
    closed = threading.Event()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(
                    next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(
                        b":"
                    )[1]
                )
                while len(body) < length:
                    body += conn.recv(65536)
                requests.append(body)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
            closed.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], requests, closed
    server.close()


def test_a_connection_the_server_closed_is_not_reused(
    closing_server: tuple[int, list[bytes], threading.Event],
) -> None:
    port, requests, closed = closing_server
    pool = ResponseUrlPool()
    url = f"http://127.0.0.1:{port}/respond/r"
    assert pool.post(url, {"text": "one"}).status_code == 200
    assert pool.idle_connections() == 1
    assert closed.wait(5)  # the server has closed the connection the pool keeps
    assert pool.post(url, {"text": "two"}).status_code == 200
    assert requests == [b'{"text": "one"}', b'{"text": "two"}'] and pool.opened == 2


def test_a_connection_idle_too_long_is_not_reused(
    standin: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("http.server.BaseHTTPRequestHandler.protocol_version", "HTTP/1.1")
    clock = Clock()
    pool = ResponseUrlPool(clock=clock, idle_seconds=15.0)
    for text in ("one", "two"):
        assert pool.post(standin.response_url("r"), {"text": text}).status_code == 200
    assert pool.opened == 1  # kept alive and reused
    clock.now += 15.1
    assert pool.post(standin.response_url("r"), {"text": "three"}).status_code == 200
    assert pool.opened == 2 and len(standin.attempts_to("response_url")) == 3
    pool.close()
