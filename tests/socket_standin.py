"""A local stand-in for Slack's Socket Mode end: the WebSocket that `apps.connections.open` names.

Speaks the protocol slack_sdk's built-in client expects (RFC 6455 over plain TCP, as the client
allows for a ``ws://`` URL): a ``hello`` on connect, envelopes
``{"envelope_id", "type", "payload", "accepts_response_payload"}``, and acknowledgements
``{"envelope_id", "payload"?}`` from the client. Like Slack, it hands each envelope to exactly one
open connection (round-robin here), records every acknowledgement, can deliver an envelope again
with ``retry_attempt`` and ``retry_reason``, and can end a connection: with Slack's
``disconnect`` message (``refresh_requested``), with a close frame, or by cutting the TCP
connection. Each URL carries a one-time ticket, as Slack's do, so a client that reconnects must
ask ``apps.connections.open`` again.

    with SocketModeStandin() as socket_mode:
        socket_mode.serve(standin)  # standin.answer("apps.connections.open", ...)
        envelope = socket_mode.slash_command({"command": "/impact", "text": "Acme: great"})
        socket_mode.wait_for_acks([envelope])
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from socketserver import BaseRequestHandler, ThreadingTCPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from tests.slack_standin import Call, SlackStandin

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
APP_ID = "A0STANDIN"


@dataclass
class Ack:
    """One acknowledgement a client sent for an envelope."""

    envelope_id: str
    connection: int
    payload: dict[str, Any] | None
    received_at: float


@dataclass
class Envelope:
    """One envelope and where it went: each delivery is (connection number, retry_attempt)."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    deliveries: list[tuple[int, int]] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)

    def message(self, retry_attempt: int, retry_reason: str) -> dict[str, Any]:
        """The envelope as Slack writes it on the WebSocket (events always carry their retry count)."""
        body: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api" or retry_attempt:
            body["retry_attempt"] = retry_attempt
            body["retry_reason"] = retry_reason
        return body


class Connection:
    """One open WebSocket from a client; numbered 1, 2, ... in the order they opened."""

    def __init__(self, number: int, sock: socket.socket) -> None:
        self.number = number
        self.sock = sock
        self.closed_at: float | None = None
        self.cut_as: str | None = None  # "reset" or "end" once asked to cut
        self._send_lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def send_json(self, message: dict[str, Any]) -> None:
        self.send_frame(TEXT, json.dumps(message).encode())

    def send_frame(self, opcode: int, data: bytes) -> None:
        """One unmasked frame (servers never mask), written in one piece."""
        length = len(data)
        if length <= 125:
            header = struct.pack("!BB", 0x80 | opcode, length)
        elif length <= 0xFFFF:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        with self._send_lock:
            self.sock.sendall(header + data)

    def cut(self, reset: bool = True) -> None:
        """End the TCP connection without a close frame: a reset (RST), or a plain end (FIN).

        Our reader thread does it, between two reads: closing a socket another thread reads from
        would let the server's own clean shutdown send a FIN first.
        """
        with self._send_lock:
            self.closed_at = self.closed_at or time.time()
            self.cut_as = "reset" if reset else "end"

    def _cut_now(self) -> None:
        try:
            if self.cut_as == "reset":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
        except OSError:
            pass


class _Reader:
    """Reads whole lines and byte counts from a connection; b"" once the peer or we ended it."""

    def __init__(self, sock: socket.socket, connection: Connection | None = None) -> None:
        self.sock = sock
        self.connection = connection
        self.buffer = b""

    def _fill(self) -> bool:
        while self.connection is not None:
            if self.connection.cut_as:
                self.connection._cut_now()
                return False
            if select.select([self.sock], [], [], 0.05)[0]:
                break
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size and self._fill():
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readline(self, limit: int = 8192) -> bytes:
        while b"\n" not in self.buffer and len(self.buffer) < limit and self._fill():
            pass
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line


class _Server(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 32


class SocketModeStandin:
    """Slack's Socket Mode WebSocket end on 127.0.0.1 with an ephemeral port (thread-safe)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.connections: list[Connection] = []
        self.envelopes: dict[str, Envelope] = {}
        self.acks: list[Ack] = []
        self.refused: list[str] = []  # handshakes refused: the ticket (or path) presented
        self._tickets: set[str] = set()  # issued and not yet used
        self._turn = itertools.count()
        self._numbers = itertools.count(1)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> SocketModeStandin:
        standin = self

        class Handler(BaseRequestHandler):
            def handle(self) -> None:
                standin._serve_connection(self.request)

        server = _Server((self.host, self.port), Handler)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every connection (no close frame: the clients are going too)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in self.open_connections():
            connection.cut()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SocketModeStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what apps.connections.open answers --------------------------------------------
    def issue_url(self) -> str:
        """A fresh WebSocket URL with a one-time ticket, as `apps.connections.open` answers."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"

    def serve(self, standin: SlackStandin) -> None:
        """Make the Web API stand-in's `apps.connections.open` hand out this server's URLs."""

        def connections_open(call: Call) -> dict[str, Any]:
            return {"ok": True, "url": self.issue_url()}

        standin.answer("apps.connections.open", connections_open)

    # ---- inspection --------------------------------------------------------------------
    def open_connections(self) -> list[Connection]:
        with self._lock:
            return [c for c in self.connections if c.open]

    def wait_for_connections(self, count: int, timeout: float = 30.0) -> list[Connection]:
        """Block until `count` connections are open; AssertionError naming how many on timeout."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.open_connections()) >= count, timeout):
                raise AssertionError(
                    f"expected {count} open connection(s), got {len(self.open_connections())}"
                )
            return self.open_connections()

    def wait_for_acks(self, envelopes: Iterable[Envelope], timeout: float = 30.0) -> None:
        """Block until each envelope was acknowledged at least once."""
        wanted = list(envelopes)
        with self._changed:
            if not self._changed.wait_for(lambda: all(e.acks for e in wanted), timeout):
                missing = [e.envelope_id for e in wanted if not e.acks]
                raise AssertionError(f"{len(missing)} envelope(s) not acknowledged, e.g. {missing[:3]}")

    def wait_until(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        """Block until predicate() holds, re-checked on every change here (and at least each 0.2 s)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._changed.wait(min(left, 0.2))

    # ---- delivering --------------------------------------------------------------------
    def send(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        envelope_id: str | None = None,
        connection: Connection | None = None,
    ) -> Envelope:
        """Deliver a new envelope to one open connection (the next in turn, or the one given)."""
        envelope = Envelope(envelope_id or uuid.uuid4().hex, type, payload, accepts_response_payload)
        with self._lock:
            self.envelopes[envelope.envelope_id] = envelope
        self._deliver(envelope, connection, retry_attempt=0, retry_reason="")
        return envelope

    def slash_command(self, payload: dict[str, Any], connection: Connection | None = None) -> Envelope:
        """A slash command, form fields as Slack posts them over HTTP."""
        return self.send("slash_commands", payload, accepts_response_payload=True, connection=connection)

    def event(self, event: dict[str, Any], team_id: str, connection: Connection | None = None) -> Envelope:
        """An Events API event callback wrapped as Slack wraps it."""
        payload = {
            "type": "event_callback",
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": event,
            "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "is_bot": True, "user_id": "UBOT"}],
        }
        return self.send("events_api", payload, connection=connection)

    def redeliver(
        self, envelope: Envelope, connection: Connection | None = None, retry_reason: str = "timeout"
    ) -> None:
        """Deliver the same envelope again, with the next retry_attempt, as Slack retries."""
        with self._lock:
            attempt = len(envelope.deliveries)
        self._deliver(envelope, connection, retry_attempt=attempt, retry_reason=retry_reason)

    def _deliver(
        self, envelope: Envelope, connection: Connection | None, retry_attempt: int, retry_reason: str
    ) -> None:
        message = envelope.message(retry_attempt, retry_reason)
        if connection is not None and not connection.open:
            raise AssertionError(f"connection {connection.number} is closed")
        for _ in range(len(self.connections) + 1):
            target = connection or self._next_connection()
            if target is None:
                raise AssertionError(f"no open connection for envelope {envelope.envelope_id}")
            try:
                target.send_json(message)
            except OSError:
                self._closed(target)  # gone without a word: Slack tries another connection
                if connection is not None:
                    raise AssertionError(f"connection {target.number} is closed") from None
                continue
            with self._lock:
                envelope.deliveries.append((target.number, retry_attempt))
            return
        raise AssertionError(f"could not deliver envelope {envelope.envelope_id}")

    def _next_connection(self) -> Connection | None:
        with self._lock:
            open_ones = self.open_connections()
            return open_ones[next(self._turn) % len(open_ones)] if open_ones else None

    # ---- ending connections ------------------------------------------------------------
    def drop(self, connection: Connection, how: str = "disconnect") -> None:
        """End a connection as Slack or the network may: "disconnect" (Slack's refresh: the
        `disconnect` message, then a close frame), "close" (a close frame only), "reset" (TCP RST)
        or "end" (TCP FIN, no close frame)."""
        if how in ("reset", "end"):
            connection.cut(reset=how == "reset")
            self._closed(connection)
            return
        try:
            if how == "disconnect":
                connection.send_json(
                    {
                        "type": "disconnect",
                        "reason": "refresh_requested",
                        "debug_info": {"host": _host(connection)},
                    }
                )
            connection.send_frame(CLOSE, struct.pack("!H", 1001) + b"going away")
        except OSError:
            pass
        self._closed(connection)

    def _closed(self, connection: Connection) -> None:
        with self._changed:
            if connection.closed_at is None:
                connection.closed_at = time.time()
            self._changed.notify_all()

    # ---- the WebSocket server ----------------------------------------------------------
    def _serve_connection(self, sock: socket.socket) -> None:
        reader = _Reader(sock)
        request = _read_request(reader)
        if request is None:
            return
        path, headers = request
        ticket = (parse_qs(urlsplit(path).query).get("ticket") or [""])[0]
        key = headers.get("sec-websocket-key", "")
        with self._lock:
            valid = (
                ticket in self._tickets and headers.get("upgrade", "").lower() == "websocket" and bool(key)
            )
            self._tickets.discard(ticket)
            if not valid:
                self.refused.append(ticket or path)
        if not valid:
            sock.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        with self._lock:
            connection = Connection(next(self._numbers), sock)
            count = len(self.open_connections()) + 1
        try:
            # Hello first: the connection takes envelopes only once it is greeted, as at Slack.
            connection.send_json(
                {
                    "type": "hello",
                    "num_connections": count,
                    "debug_info": {
                        "host": _host(connection),
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
            with self._changed:
                self.connections.append(connection)
                self._changed.notify_all()
            reader.connection = connection
            self._read_frames(connection, reader)
        except (OSError, ValueError):
            pass
        finally:
            if connection.cut_as:
                connection._cut_now()
            self._closed(connection)

    def _read_frames(self, connection: Connection, reader: _Reader) -> None:
        while True:
            frame = _read_frame(reader)
            if frame is None:
                return
            opcode, data = frame
            if opcode == PING:
                connection.send_frame(PONG, data)
            elif opcode == CLOSE:
                if connection.open:
                    connection.send_frame(CLOSE, data[:2])
                return
            elif opcode == TEXT:
                self._acknowledged(connection, json.loads(data.decode()))

    def _acknowledged(self, connection: Connection, message: dict[str, Any]) -> None:
        envelope_id = str(message.get("envelope_id") or "")
        ack = Ack(envelope_id, connection.number, message.get("payload"), time.time())
        with self._changed:
            self.acks.append(ack)
            envelope = self.envelopes.get(envelope_id)
            if envelope is not None:
                envelope.acks.append(ack)
            self._changed.notify_all()


def _host(connection: Connection) -> str:
    return f"applink-standin-{connection.number}"


def _read_request(reader: _Reader) -> tuple[str, dict[str, str]] | None:
    """The handshake request's path and lower-cased headers; None when the client went away."""
    line = reader.readline()
    if not line:
        return None
    parts = line.decode("latin-1").split()
    headers: dict[str, str] = {}
    while True:
        raw = reader.readline()
        text = raw.decode("latin-1").strip()
        if not text:
            break
        name, _, value = text.partition(":")
        headers[name.strip().lower()] = value.strip()
    return (parts[1] if len(parts) > 1 else "/"), headers


def _read_frame(reader: _Reader) -> tuple[int, bytes] | None:
    """One whole message (continuations joined), unmasked; None at the end of the stream."""
    opcode: int | None = None
    data = b""
    while True:
        head = reader.read(2)
        if len(head) < 2:
            return None
        fin, frame_opcode = head[0] & 0x80, head[0] & 0x0F
        masked, length = head[1] & 0x80, head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", reader.read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", reader.read(8))
        mask = reader.read(4) if masked else b""
        chunk = reader.read(length)
        if len(chunk) < length:
            return None
        if masked:
            chunk = bytes(b ^ mask[i % 4] for i, b in enumerate(chunk))
        if frame_opcode >= 0x8:  # control frames may come between fragments
            return frame_opcode, chunk
        if opcode is None:
            opcode = frame_opcode
        data += chunk
        if fin:
            return opcode, data
