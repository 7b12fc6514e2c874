"""Logging: plain text by default, or one JSON object per line for a log shipper (LOG_FORMAT=json).

What a line is about (team, channel, user, slot) is carried in context variables, set where it
becomes known: the request middleware for requests, the poster for scheduled slots.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

FIELDS = ("team", "channel", "user", "slot")
_about: ContextVar[dict[str, str] | None] = ContextVar("impact_log_about", default=None)


def set_about(**values: str | None) -> None:
    """Say what the following log lines of this thread or task are about (team, channel, ...)."""
    _about.set({k: v for k, v in values.items() if k in FIELDS and v})


@contextmanager
def about(**values: str | None) -> Iterator[None]:
    """Within the block, log lines also name these (team, channel, user, slot)."""
    merged = {**(_about.get() or {}), **{k: v for k, v in values.items() if k in FIELDS and v}}
    token = _about.set(merged)
    try:
        yield
    finally:
        _about.reset(token)


# Slack tokens (bot, user, app-level, refresh, configuration): slack_sdk logs whole request and
# response bodies at DEBUG, `oauth.v2.access`'s access_token included. No line ever carries one.
TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]{4,}")


def redact(text: str) -> str:
    """`text` with every Slack token cut to its kind: 'xoxb-…'."""
    return TOKEN.sub(lambda m: f"{m.group(1)}-…", text)


class RedactingFormatter(logging.Formatter):
    """The plain-text format, tokens cut (see `redact`)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and team/channel/user/slot where known."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_about.get() or {})
        for key in FIELDS:
            value = getattr(record, key, None)
            if value:
                line[key] = str(value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, ensure_ascii=False))


def configure(level: str, fmt: str) -> None:
    """Set up the root logger once, for the whole process."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic and APScheduler narrate every step at INFO (a line per job run every sweep); an
    # operator running the bot for years wants their warnings, and our own INFO lines.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
