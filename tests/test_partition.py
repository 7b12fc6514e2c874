"""A network partition to PostgreSQL: health answers 503 in time, Slack requests get an apology.

A small TCP proxy sits between the app and the real PostgreSQL. Partitioned, it passes no byte
either way and accepts new connections without forwarding them: clients hang, as they do when
packets are dropped, rather than being refused.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.deadlines import ACK_BUDGET_SECONDS
from storage import queries
from storage.db import PG_ANSWER_DEADLINE_S, PG_CONNECT_TIMEOUT_S, Database
from tests.conftest import RunningApp, acked_message
from tests.signing import command_body


class PartitionProxy:
    """Forwards TCP to a target until partitioned; healing resumes the held connections."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def partition(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self._open.set()
        self.listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.close()
                except OSError:
                    pass

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        # Accepted while partitioned: hold it, unanswered, until healed (or the client gives up).
        self._open.wait()
        if self._closed:
            return
        try:
            upstream = self._track(socket.create_connection(self.target))
        except OSError:
            client.close()
            return
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                # Partitioned: the bytes already read wait here, nothing passes either way.
                self._open.wait()
                if self._closed:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def proxy(pg_url: str) -> Iterator[PartitionProxy]:
    url = make_url(pg_url)
    p = PartitionProxy(url.host or "127.0.0.1", url.port or 5432)
    yield p
    p.close()


@pytest.fixture
def proxied_db(pg_url: str, proxy: PartitionProxy) -> Iterator[Database]:
    """The database through the proxy, migrated while the network is whole."""
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    database = Database(url.render_as_string(hide_password=False))
    database.migrate()
    yield database
    proxy.heal()
    database.dispose()


def healthz(app: RunningApp) -> int:
    try:
        with urllib.request.urlopen(app.url + "/healthz", timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code


def stories(db: Database) -> list[Any]:
    with db.session() as session:
        return queries.live_stories(session, queries.workspace_id(session, "T111"))


def quick_log(app: RunningApp, text: str, tag: str) -> tuple[int, str, float]:
    """The quick log's HTTP status, the ack's body and how long the ack took."""
    started = time.monotonic()
    status, body = app.post(command_body(text=text, response_url=app.standin.response_url(tag)))
    return status, body, time.monotonic() - started


def test_a_query_fails_within_seconds_when_the_network_is_partitioned(
    proxied_db: Database, proxy: PartitionProxy
) -> None:
    with proxied_db.engine.connect() as conn:  # a pooled connection, opened while healthy
        conn.execute(text("SELECT 1"))
    proxy.partition()
    # On the pooled connection: the pre-ping waits PG_ANSWER_DEADLINE_S, the reconnect
    # PG_CONNECT_TIMEOUT_S; then the error, instead of hanging for ever.
    started = time.monotonic()
    with pytest.raises(OperationalError):
        with proxied_db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    elapsed = time.monotonic() - started
    print(f"partition: pooled connection failed after {elapsed:.2f} s")
    assert elapsed < PG_ANSWER_DEADLINE_S + PG_CONNECT_TIMEOUT_S + 1, elapsed
    # A fresh connection gives up after the connect timeout.
    started = time.monotonic()
    with pytest.raises(OperationalError):
        with proxied_db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    elapsed = time.monotonic() - started
    print(f"partition: fresh connection failed after {elapsed:.2f} s")
    assert elapsed < PG_CONNECT_TIMEOUT_S + 1, elapsed
    proxy.heal()
    with proxied_db.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_statement_on_an_open_connection_stops_at_the_answer_deadline(
    proxied_db: Database, proxy: PartitionProxy
) -> None:
    with proxied_db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        proxy.partition()
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised:
            conn.execute(text("SELECT 2"))
        elapsed = time.monotonic() - started
    print(f"partition: statement on an open connection failed after {elapsed:.2f} s")
    assert PG_ANSWER_DEADLINE_S - 0.2 < elapsed < PG_ANSWER_DEADLINE_S + 1, elapsed
    assert raised.value.connection_invalidated  # the pool will not hand it out again


def test_healthz_and_quick_log_during_a_partition_and_after_it_heals(
    make_app: Any, proxied_db: Database, proxy: PartitionProxy
) -> None:
    app: RunningApp = make_app(proxied_db)
    assert healthz(app) == 200
    status, body, _ = quick_log(app, "Acme: before the partition", "before")
    assert status == 200
    confirmation = json.dumps(acked_message(body))  # the confirmation, in the ack
    assert "Sorry" not in confirmation and "before the partition" in confirmation
    assert [s.quote for s in stories(proxied_db)] == ["before the partition"]

    proxy.partition()
    # First the quick log, while the pool still holds the connection just used (so not pinged):
    # its INSERT waits for an answer until PG_ANSWER_DEADLINE_S, past the ack budget. The ack
    # goes out empty at ACK_BUDGET_SECONDS, and the apology follows through response_url.
    status, body, ack_seconds = quick_log(app, "Acme: they loved it", "during")
    assert status == 200 and body == "", body
    assert ACK_BUDGET_SECONDS - 0.1 < ack_seconds < 3, ack_seconds
    started = time.monotonic()
    [reply] = app.standin.wait_for("response_url", 1, timeout=8)
    apology_seconds = ack_seconds + time.monotonic() - started
    assert reply.path == "/respond/during"
    text_shown = json.dumps(reply.args)
    assert "Sorry" in text_shown and "they loved it" in text_shown  # what they typed comes back
    assert PG_ANSWER_DEADLINE_S - 0.2 < apology_seconds < PG_ANSWER_DEADLINE_S + 1, apology_seconds

    health_seconds = []
    for _ in range(3):  # repeated checks neither hang nor pile up
        started = time.monotonic()
        assert healthz(app) == 503
        health_seconds.append(time.monotonic() - started)
    assert max(health_seconds) < 2.5, health_seconds
    assert len([t for t in threading.enumerate() if t.name == "db-ping"]) <= 1

    proxy.heal()
    deadline = time.monotonic() + 10
    while healthz(app) != 200:
        assert time.monotonic() < deadline, "health did not recover after the partition healed"
        time.sleep(0.2)
    status, body, _ = quick_log(app, "Acme: after the partition", "after")
    assert status == 200
    confirmation = json.dumps(acked_message(body))
    assert "Sorry" not in confirmation and "after the partition" in confirmation
    # The apology said nothing was saved: the story typed during the partition must not appear.
    assert sorted(s.quote for s in stories(proxied_db)) == ["after the partition", "before the partition"]
    # The apology was the only answer through response_url: both confirmations were in the acks.
    assert [c.path for c in app.standin.calls_to("response_url")] == ["/respond/during"]
    print(
        f"partition: /healthz 503 in {', '.join(f'{s:.2f}' for s in health_seconds)} s; "
        f"quick log acked (empty) in {ack_seconds:.2f} s, apology after {apology_seconds:.2f} s"
    )
