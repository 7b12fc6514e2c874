"""Starting the bot: checks, the app, the scheduler, and Socket Mode or the HTTP server."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from typing import Any

from slack_bolt import App
from slack_bolt.logger.messages import (
    warning_client_prioritized_and_token_skipped,
    warning_token_skipped,
)

from bot.app import Services, create_app
from bot.settings import Settings
from bot.startup import SlackIdentity, check_slack, connect_socket_mode, listen_error, socket_mode_url
from storage.db import Database

log = logging.getLogger("impact")


def run(settings: Settings, db: Database) -> None:
    """Run until interrupted; StartupError (one line) when Slack or the listen address refuse."""
    try:
        identity = check_slack(settings)
        services = Services(settings=settings, db=db)
        if settings.socket_mode:
            url = socket_mode_url(settings)
            _run_socket_mode(settings, db, services, build_app(settings, db, services, identity), url)
        else:
            _check_listen(settings)
            _run_http(settings, db, services, build_app(settings, db, services, identity))
    finally:
        db.dispose()


def build_app(settings: Settings, db: Database, services: Services, identity: SlackIdentity | None) -> App:
    """The Bolt app, told whom the token belongs to where this build's create_app takes it."""
    bolt_logger = logging.getLogger("impact.bolt")
    bolt_logger.addFilter(_env_token_notices)
    try:
        return create_app(settings, db, services=services, identity=identity)
    finally:
        bolt_logger.removeFilter(_env_token_notices)


def _env_token_notices(record: logging.LogRecord) -> bool:
    """Drop Bolt's notices that SLACK_BOT_TOKEN in the environment goes unused.

    The app gets its token through its client and authorize on purpose; Bolt sees the variable
    in the environment and warns at every start, two lines that bury a start-up failure.
    """
    notices = (warning_client_prioritized_and_token_skipped(), warning_token_skipped())
    return record.getMessage() not in notices


def _run_socket_mode(settings: Settings, db: Database, services: Services, app: App, url: str) -> None:
    handler = connect_socket_mode(app, settings, url)
    log.info("connected to Slack in Socket Mode")
    scheduler = start_scheduler(settings, db, services, app)
    try:
        threading.Event().wait()
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        handler.close()


def _run_http(settings: Settings, db: Database, services: Services, app: App) -> None:
    from bot.server import serve

    scheduler = start_scheduler(settings, db, services, app)
    try:
        serve(app, db, settings.host, settings.port)
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise listen_error(e, settings) from None  # taken between our check and waitress's bind
        raise
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


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


def start_scheduler(settings: Settings, db: Database, services: Services, app: object) -> Any:
    """The slot scheduler, when this build has one."""
    try:
        from bot.scheduler import SlotScheduler
    except ImportError:
        return None
    scheduler = SlotScheduler(settings, db, services, app)
    scheduler.start()
    return scheduler
