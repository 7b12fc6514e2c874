"""Starting the bot: the app, the scheduler, and Socket Mode or the HTTP server."""

from __future__ import annotations

import logging

from bot.app import Services, create_app
from bot.settings import Settings
from storage.db import Database

log = logging.getLogger("impact")


def run(settings: Settings, db: Database) -> None:
    """Run until interrupted."""
    services = Services(settings=settings, db=db)
    app = create_app(settings, db, services=services)
    scheduler = start_scheduler(settings, db, services, app)
    try:
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("starting in Socket Mode")
            SocketModeHandler(app, settings.app_token).start()
        else:
            from bot.server import serve

            serve(app, db, settings.host, settings.port)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        db.dispose()


def start_scheduler(settings: Settings, db: Database, services: Services, app: object):  # type: ignore[no-untyped-def]
    """The slot scheduler, when this build has one."""
    try:
        from bot.scheduler import SlotScheduler
    except ImportError:
        return None
    scheduler = SlotScheduler(settings, db, services, app)
    scheduler.start()
    return scheduler
