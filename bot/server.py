"""HTTP mode: a WSGI app with /slack/events and /healthz, served by waitress."""

from __future__ import annotations

import gc
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.http_guard import guard
from storage.db import Database

log = logging.getLogger(__name__)

# On SIGTERM, how long the work after the acks already given may take to finish.
DRAIN_SECONDS = 10.0


def wsgi_app(app: App, db: Database) -> Callable[..., Iterable[bytes]]:
    """Route /healthz ourselves; everything else (events, OAuth) goes to Bolt's WSGI adapter."""
    # Forged requests get 401 and malformed ones 400 before Bolt parses anything (bot.http_guard).
    bolt = guard(SlackRequestHandler(app, path="/slack/events"), app._signing_secret)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            # One `SELECT 1` with a deadline: a hung database gives 503 in time, never a hung check.
            healthy = db.ping()
            # Which database was checked (back end and host, never credentials), for the operator.
            status = "ok" if healthy else "database unavailable"
            body = json.dumps({"status": status, "database": db.describe()}).encode()
            start_response(
                "200 OK" if healthy else "503 Service Unavailable",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body))),
                    ("Cache-Control", "no-store"),
                ],
            )
            return [body]
        return bolt(environ, start_response)

    return application


def serve(app: App, db: Database, host: str, port: int) -> None:
    """Serve until interrupted, with a production WSGI server."""
    import waitress

    where = db.describe()
    log.info(
        "listening on http://%s:%s/slack/events; database %s %s",
        host,
        port,
        where["backend"],
        where.get("host", ""),
    )
    # Waitress warns "Task queue depth is N" for every request queued behind its 8 threads: under
    # a burst that is a line per request (and a few % of the CPU), saying what /healthz and the
    # ack timings say better. Its other warnings stay.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = waitress.create_server(wsgi_app(app, db), host=host, port=port, threads=8, ident="impact")
    settle_garbage_collector()
    previous = None
    if threading.current_thread() is threading.main_thread():
        # A supervisor's stop (systemd, Docker, Kubernetes) sends SIGTERM: waitress leaves its loop
        # on KeyboardInterrupt and lets the requests in hand finish (up to 5 s).
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    finally:
        server.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    log.info("stopping: no new requests; finishing the work after the acks already given")
    drain(_listener_executor(app), DRAIN_SECONDS)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _listener_executor(app: App) -> Executor | None:
    """The pool Bolt runs listeners in: after an ack, their work (storing, replying) goes on there."""
    runner = getattr(app, "_listener_runner", None)
    executor = getattr(runner, "listener_executor", None)
    return executor if isinstance(executor, Executor) else None


def drain(executor: Executor | None, timeout: float) -> bool:
    """Let the listeners' work in hand finish, for at most `timeout` s; False if some did not."""
    if executor is None:
        return True
    done = threading.Thread(target=executor.shutdown, kwargs={"wait": True}, daemon=True)
    done.start()
    done.join(timeout)
    if done.is_alive():
        log.warning("stopping with listener work unfinished after %.0f s", timeout)
        return False
    return True


def settle_garbage_collector() -> None:
    """Keep the objects of start-up out of every later garbage collection.

    A full collection walks every container object the process holds, with the GIL held: no
    request is acked meanwhile. After start-up that is ~90-100k objects (Bolt, slack_sdk,
    SQLAlchemy, the app): 60-80 ms on this machine, once every ~2,000 quick logs under load,
    stalling the ~20 requests in flight (bench/README.md, `bench.ack_load`). Those objects
    live as long as the process: collect once, so nothing unreachable is kept, then freeze the
    survivors (`gc.freeze`). Later collections walk only what requests create, and free it.
    """
    gc.collect()
    gc.freeze()
