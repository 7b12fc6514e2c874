"""Who is a manager: IMPACT_MANAGERS, the IMPACT_MANAGER_GROUP user group, or admins/owners."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class ManagerCheckUnavailable(Exception):
    """Slack could not say in time whether the user is a manager (429, 5xx, timeout)."""


def _definitive(error: SlackApiError) -> bool:
    """Slack's answer is final (ok: false with HTTP 200), not a passing 429 or 5xx."""
    return error.response.status_code == 200


def _admin(info: dict[str, Any]) -> bool:
    return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))


class ManagerDirectory:
    """Answers is_manager(team, user), caching Slack's answers briefly (default 5 minutes)."""

    def __init__(self, managers: frozenset[str], group_handle: str | None, ttl_seconds: float = 300) -> None:
        self.managers = managers
        self.group_handle = group_handle
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        # Told of every users.info answer this asks for (the user's locale rides along), so
        # bot.languages need not ask Slack again about the same person.
        self.on_user_info: Callable[[str, str, dict[str, Any]], None] | None = None

    def _cached(self, key: tuple[str, str], compute: Any) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self.ttl:
                return hit[1]
        value = compute()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def group_members(self, client: Any, team: str) -> frozenset[str]:
        """Members of the manager user group; empty when unset or unreadable."""
        if not self.group_handle:
            return frozenset()

        def fetch() -> frozenset[str]:
            try:
                groups = client.usergroups_list()["usergroups"]
                group = next(
                    (g for g in groups if g.get("handle") == self.group_handle),
                    None,
                )
                if group is None:
                    log.warning("IMPACT_MANAGER_GROUP @%s not found", self.group_handle)
                    return frozenset()
                users = client.usergroups_users_list(usergroup=group["id"])["users"]
                return frozenset(users)
            except SlackApiError as e:
                if not _definitive(e):
                    raise ManagerCheckUnavailable(f"usergroups: HTTP {e.response.status_code}") from None
                log.warning("could not read manager group: %s", e.response.get("error"))
                return frozenset()
            except Exception as e:  # noqa: BLE001 - timeouts and dropped connections
                raise ManagerCheckUnavailable(f"usergroups: {e!r}") from None

        result: frozenset[str] = self._cached((team, "group"), fetch)
        return result

    def remember(self, team: str, user: str, info: dict[str, Any]) -> None:
        """A users.info answer asked for elsewhere (bot.languages): whether the user is an admin."""
        with self._lock:
            self._cache[(team, user)] = (time.monotonic(), _admin(info))

    def is_admin(self, client: Any, team: str, user: str) -> bool:
        def fetch() -> bool:
            try:
                # With the locale, so one answer serves bot.languages too (on_user_info).
                info = client.users_info(user=user, include_locale=True)["user"]
                if self.on_user_info is not None:
                    self.on_user_info(team, user, info)
                return _admin(info)
            except SlackApiError as e:
                if not _definitive(e):
                    raise ManagerCheckUnavailable(f"users.info: HTTP {e.response.status_code}") from None
                log.warning("users.info failed for %s: %s", user, e.response.get("error"))
                return False
            except Exception as e:  # noqa: BLE001 - timeouts and dropped connections
                raise ManagerCheckUnavailable(f"users.info: {e!r}") from None

        result: bool = self._cached((team, user), fetch)
        return result

    def is_manager(self, client: Any, team: str, user: str) -> bool:
        """True for configured managers, manager-group members, and workspace admins/owners.

        Raises ManagerCheckUnavailable when Slack cannot answer now; that is never cached.
        """
        if user in self.managers:
            return True
        if user in self.group_members(client, team):
            return True
        return self.is_admin(client, team, user)
