"""Starting the bot: checks, the app, the scheduler, and Socket Mode or the HTTP server."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import socket
import threading

from slack_bolt import App

from bot.app import create_app
from bot.scheduler import SlotScheduler
from bot.services import Services, build_services
from bot.settings import Settings
from bot.startup import check_slack, connect_socket_mode, listen_error, socket_mode_url
from storage.db import Database

log = logging.getLogger("impact")


# glibc gives each thread that meets contention a malloc arena of its own, up to 8 per core;
# memory freed in one stays mapped there. With ~40 threads (HTTP, listeners, scheduler) the
# bot's RSS then creeps up for as long as it runs (bench/README.md "bench.memory").
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas() -> bool:
    """Cap glibc's malloc arenas before any thread starts, as MALLOC_ARENA_MAX=2 would; an
    operator's own MALLOC_ARENA_MAX wins. False where this is not glibc (nothing to do)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    return bool(mallopt(M_ARENA_MAX, MALLOC_ARENAS))


def run(settings: Settings, db: Database) -> None:
    """Run until interrupted; StartupError (one line) when Slack or the listen address refuse."""
    limit_malloc_arenas()
    try:
        identity = check_slack(settings)
        services = build_services(settings, db)
        app = create_app(services, identity=identity)
        if settings.socket_mode:
            url = socket_mode_url(settings)
            _run_socket_mode(settings, db, services, app, url)
        else:
            _check_listen(settings)
            _run_http(settings, db, services, app)
    finally:
        db.dispose()


def _run_socket_mode(settings: Settings, db: Database, services: Services, app: App, url: str) -> None:
    handler = connect_socket_mode(app, settings, url)
    log.info("connected to Slack in Socket Mode")
    scheduler = start_scheduler(services)
    stop = threading.Event()
    stop_on_sigterm(stop)
    try:
        stop.wait()
        log.info("SIGTERM: closing Socket Mode connection %s", handler.client.session_id())
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        # Closing waits for the envelopes in hand; Slack gives the next ones to other connections.
        handler.close()
    log.info("stopped")


def stop_on_sigterm(stop: threading.Event) -> None:
    """Let SIGTERM (a supervisor's stop) end the wait cleanly instead of killing the process."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())


def _run_http(settings: Settings, db: Database, services: Services, app: App) -> None:
    from bot.server import serve

    scheduler = start_scheduler(services)
    try:
        serve(app, db, settings.host, settings.port)
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise listen_error(e, settings) from None  # taken between our check and waitress's bind
        raise
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
    log.info("stopped")


def _check_listen(settings: Settings) -> None:
    """Bind HOST:PORT once as waitress will, so a taken port is one line before anything starts."""
    try:
        infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise listen_error(e, settings) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise listen_error(e, settings) from None


def start_scheduler(services: Services) -> SlotScheduler | None:
    """Start the process's slot scheduler (built in the composition root)."""
    if services.scheduler is not None:
        services.scheduler.start()
    return services.scheduler
