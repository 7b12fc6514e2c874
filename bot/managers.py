"""Who is a manager: IMPACT_MANAGERS, the IMPACT_MANAGER_GROUP user group, or admins/owners."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class ManagerDirectory:
    """Answers is_manager(team, user), caching Slack's answers briefly (default 5 minutes)."""

    def __init__(self, managers: frozenset[str], group_handle: str | None, ttl_seconds: float = 300) -> None:
        self.managers = managers
        self.group_handle = group_handle
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

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
                log.warning("could not read manager group: %s", e.response.get("error"))
                return frozenset()

        result: frozenset[str] = self._cached((team, "group"), fetch)
        return result

    def is_admin(self, client: Any, team: str, user: str) -> bool:
        def fetch() -> bool:
            try:
                info = client.users_info(user=user)["user"]
                return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
            except SlackApiError as e:
                log.warning("users.info failed for %s: %s", user, e.response.get("error"))
                return False

        result: bool = self._cached((team, user), fetch)
        return result

    def is_manager(self, client: Any, team: str, user: str) -> bool:
        """True for configured managers, manager-group members, and workspace admins/owners."""
        if user in self.managers:
            return True
        if user in self.group_members(client, team):
            return True
        return self.is_admin(client, team, user)
