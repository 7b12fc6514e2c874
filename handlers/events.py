"""Events API listeners."""

from __future__ import annotations

from typing import Any

from bot.app import Services


def register(app: Any, services: Services) -> None:
    pass
