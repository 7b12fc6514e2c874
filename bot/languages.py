"""Which language a person reads: their Slack locale, else the workspace's, else IMPACT_LANGUAGE.

Slack gives a user's locale only through `users.info` with `include_locale=true` (payloads
carry none), so the answer is cached per (team, user). The lookup runs on a thread of its own,
and a request waits for it only briefly (`LOCALE_WAIT_SECONDS`), so an ack is never held up
by a slow Slack: a request that cannot wait uses the workspace's language, and Slack's late
answer is still cached for the next one. A failed lookup is logged, falls back the same way
and is not repeated for a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from slack_sdk import WebClient

from bot.messages import language_for_locale
from bot.settings import Settings
from storage import queries
from storage.db import Database

log = logging.getLogger("impact.languages")

LOCALE_TTL_SECONDS = 3600.0  # people rarely switch Slack's language; an hour is fresh enough
FAILURE_TTL_SECONDS = 60.0  # a failed lookup is not repeated on every request of a slow minute
# How long a request (possibly before its ack) waits for Slack's answer; users.info usually
# takes a tenth of that. A manager check before the same ack still fits in Slack's 3 seconds.
LOCALE_WAIT_SECONDS = 0.8
LOOKUP_TIMEOUT_SECONDS = 5.0  # the lookup itself, on its own thread; no retries
MAX_CACHED = 50_000  # (team, user) pairs; past this the cache starts afresh
NO_PREFERENCE = ""  # the locale names no language of ours (en-US, fr-FR): the workspace decides


class UserLanguages:
    """The language of a user's replies, modals, DMs and App Home (PRODUCT.md "Languages")."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        ttl_seconds: float = LOCALE_TTL_SECONDS,
        failure_ttl_seconds: float = FAILURE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        workspaces: queries.WorkspaceCache | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.workspaces = workspaces or queries.WorkspaceCache(db)  # the workspaces' languages, briefly
        self.ttl = ttl_seconds
        self.failure_ttl = failure_ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        # (team, user) -> (expires at, "de" / "nl" / NO_PREFERENCE)
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._pending: dict[tuple[str, str], Future[str]] = {}
        # Told of every users.info answer this asks for, so bot.managers need not ask again.
        self.on_user_info: Callable[[str, str, dict[str, Any]], None] | None = None

    def remember(self, team: str, user: str, info: dict[str, Any]) -> None:
        """A users.info answer (with include_locale) asked for elsewhere (bot.managers)."""
        self._store(team, user, _language_of(info), self.ttl)

    def _store(self, team: str, user: str, language: str, ttl: float) -> None:
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[(team, user)] = (self.clock() + ttl, language)

    def cached(self, team: str, user: str) -> str | None:
        """The cached answer for (team, user): a language, NO_PREFERENCE, or None when unknown."""
        with self._lock:
            hit = self._cache.get((team, user))
        if hit is None or hit[0] <= self.clock():
            return None
        return hit[1]

    def from_locale(
        self, client: WebClient, team: str, user: str, *, wait: float = LOCALE_WAIT_SECONDS
    ) -> str:
        """The language the user's Slack locale asks for ("de", "nl"), or NO_PREFERENCE.

        Cached; otherwise one users.info call on a thread of its own (one per user at a time),
        waited for at most `wait` seconds.
        """
        found = self.cached(team, user)
        if found is not None:
            return found
        key = (team, user)
        with self._lock:
            future = self._pending.get(key)
            if future is None:
                future = Future()
                self._pending[key] = future
                threading.Thread(
                    target=self._look_up,
                    args=(client, team, user, future),
                    name="impact-locale",
                    daemon=True,
                ).start()
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            log.info("Slack's locale of %s in team %s is late; using the workspace's language", user, team)
            return NO_PREFERENCE

    def _look_up(self, base: WebClient, team: str, user: str, future: Future[str]) -> None:
        language, ttl = NO_PREFERENCE, self.failure_ttl
        try:
            # The same token and API URL, one attempt: a lookup is never worth a retry storm.
            client = WebClient(
                token=base.token,
                base_url=base.base_url,
                timeout=int(LOOKUP_TIMEOUT_SECONDS),
                retry_handlers=[],
            )
            info = client.users_info(user=user, include_locale=True).get("user") or {}
            language, ttl = _language_of(info), self.ttl
            if self.on_user_info is not None:
                self.on_user_info(team, user, info)
        except Exception as e:  # noqa: BLE001 - Slack errors, timeouts, dropped connections alike
            log.info("no Slack locale for %s in team %s (%r); using the workspace's language", user, team, e)
        finally:
            self._store(team, user, language, ttl)
            with self._lock:
                self._pending.pop((team, user), None)
            future.set_result(language)

    def workspace_language(self, ws: int | None) -> str:
        """The workspace's language (`/impact settings`), else IMPACT_LANGUAGE; the default
        alone when the database cannot say (logged)."""
        if ws is None:
            return self.settings.language
        try:
            return self.workspaces.language(ws) or self.settings.language
        except Exception as e:  # noqa: BLE001 - a language is no reason to fail a request
            log.warning("could not read the language of workspace %s: %r", ws, e)
            return self.settings.language

    def for_user(
        self,
        client: WebClient,
        team: str,
        user: str,
        workspace_language: Callable[[], str],
        *,
        wait: float = LOCALE_WAIT_SECONDS,
    ) -> str:
        """The user's language: their Slack locale (de, nl), else `workspace_language()`."""
        return self.from_locale(client, team, user, wait=wait) or workspace_language()


def _language_of(info: dict[str, Any]) -> str:
    """The language a users.info answer's locale asks for, or NO_PREFERENCE."""
    locale = info.get("locale")
    return language_for_locale(locale if isinstance(locale, str) else None, NO_PREFERENCE)
