"""What a request is about, worked out once per request by a Bolt middleware.

Every listener reads it with `request_of(context)` instead of digging through the payload.
The workspace row is looked up (or created) only when a listener first asks for it, so a
request that never touches the database never waits for it, and only once per process for
each team (storage.queries.WorkspaceCache). The user's language likewise:
their Slack locale (cached; else Slack is asked, and waited for only briefly, see
bot.languages), else the workspace's language, else IMPACT_LANGUAGE.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient

from bot.logs import set_about
from bot.messages import language_for_locale
from bot.services import Services
from bot.slack_client import SafeRespond
from storage import queries
from storage.db import Database

SLACK_USER = re.compile(r"^[UW][A-Z0-9]{1,30}$")

log = logging.getLogger("impact.handlers")


@dataclass
class Request:
    """The team, enterprise and user of one request; its workspace row and language on demand.

    `default_language` is the language when nothing better is known (IMPACT_LANGUAGE); with a
    `resolve_language` (the middleware gives one) the user's own is worked out on first use.
    """

    team_id: str
    enterprise_id: str
    user_id: str | None
    default_language: str
    db: Database | None = field(default=None, repr=False)
    _workspace: int | None = field(default=None, repr=False)
    resolve_language: Callable[[Request], str] | None = field(default=None, repr=False, compare=False)
    workspaces: queries.WorkspaceCache | None = field(default=None, repr=False, compare=False)
    _language: str | None = field(default=None, init=False, repr=False, compare=False)
    _workspace_error: Exception | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def language(self) -> str:
        """The language of the user's replies, modals and App Home, worked out once."""
        if self._language is None:
            resolve = self.resolve_language
            self._language = resolve(self) if resolve is not None else self.default_language
        return self._language

    def workspace_id(self) -> int:
        """The workspace row of this team (created on first use); asked once per request, and
        with `workspaces` once per process: a database that failed to answer is not waited for
        a second time in the same request."""
        if self._workspace is None:
            if self._workspace_error is not None:
                raise self._workspace_error
            assert self.db is not None, "a Request without a database cannot find its workspace"
            try:
                if self.workspaces is not None:
                    self._workspace = self.workspaces.workspace_id(self.team_id, self.enterprise_id)
                else:
                    with self.db.session() as session:
                        self._workspace = queries.workspace_id(session, self.team_id, self.enterprise_id)
            except Exception as e:
                self._workspace_error = e
                raise
        return self._workspace

    def forget_workspace(self) -> None:
        """The workspace id turned out stale (its row is gone): the next ask looks it up again."""
        if self._workspace is not None and self.workspaces is not None:
            self.workspaces.forget(self.team_id, self.enterprise_id, self._workspace)
        self._workspace = None


@dataclass(frozen=True)
class Invocation:
    """One `/impact` subcommand being run: who asked, how to answer, and the rest of the text."""

    services: Services
    request: Request
    body: dict[str, Any]
    respond: Respond
    client: WebClient
    rest: str


def user_of(context: BoltContext, body: dict[str, Any]) -> str | None:
    """The Slack user ID who sent the request, or None when the payload has none that is valid."""
    user = body.get("user")
    candidate = context.get("user_id") or (user.get("id") if isinstance(user, dict) else None)
    candidate = candidate or body.get("user_id")
    return candidate if isinstance(candidate, str) and SLACK_USER.match(candidate) else None


def team_ids(context: BoltContext, body: dict[str, Any]) -> tuple[str, str]:
    """(team_id, enterprise_id) of the request; an org-wide install stands in with the org's id."""
    team = body.get("team")
    team = (
        context.get("team_id") or body.get("team_id") or (team.get("id") if isinstance(team, dict) else None)
    )
    enterprise = context.get("enterprise_id") or ""
    return str(team or enterprise or ""), str(enterprise or "")


def build_request(services: Services, context: BoltContext, body: dict[str, Any]) -> Request:
    """The request's values; the language is worked out when a listener first asks for it."""
    team, enterprise = team_ids(context, body)
    user = body.get("user")
    locale = (user.get("locale") if isinstance(user, dict) else None) or body.get("locale")
    resolve = language_resolver(services, context.client, locale if isinstance(locale, str) else None)
    return Request(
        team,
        enterprise,
        user_of(context, body),
        services.settings.language,
        services.db,
        resolve_language=resolve,
        workspaces=services.workspaces,
    )


def language_resolver(
    services: Services, client: WebClient | None, payload_locale: str | None
) -> Callable[[Request], str]:
    """How a request finds its user's language (PRODUCT.md "Languages"): a locale in the payload
    (Slack sends none today), else the user's Slack locale from users.info (cached, waited for
    briefly), else the workspace's language, else IMPACT_LANGUAGE. Never raises."""

    def workspace_language(request: Request) -> str:
        try:
            ws = request.workspace_id()
        except Exception as e:  # noqa: BLE001 - the listener meets the database's trouble itself
            log.warning("no workspace language for team %s: %r", request.team_id, e)
            return services.settings.language
        return services.languages.workspace_language(ws)

    def resolve(request: Request) -> str:
        chosen = language_for_locale(payload_locale, "")
        if chosen:
            return chosen
        if request.user_id is not None and client is not None and client.token:
            return services.languages.for_user(
                client, request.team_id, request.user_id, lambda: workspace_language(request)
            )
        return workspace_language(request)

    return resolve


def attach_request(services: Services) -> Callable[..., None]:
    """The global middleware that builds the Request once and puts it in the context, and gives
    listeners a `respond` with a deadline and no blind resend, posting over the process's
    keep-alive connections, whose failures are logged, not raised (bot.slack_client.SafeRespond).

    One middleware, not two: Bolt works out each middleware's arguments on every request.
    """
    pool = services.response_urls

    def attach(context: BoltContext, body: dict[str, Any], next: Callable[[], None]) -> None:
        request = build_request(services, context, body)
        context["impact_request"] = request
        if context.response_url:
            context["respond"] = SafeRespond(
                response_url=context.response_url, team=str(context.team_id or ""), pool=pool
            )
        set_about(team=request.team_id, user=request.user_id, channel=channel_of(body))
        next()

    return attach


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel a request came from, where the payload names one."""
    channel = body.get("channel")
    found = body.get("channel_id") or (channel.get("id") if isinstance(channel, dict) else None)
    return found if isinstance(found, str) else None


def request_of(context: BoltContext) -> Request:
    """The Request the middleware built for this request."""
    found = context.get("impact_request")
    if not isinstance(found, Request):
        raise LookupError("no Request in the context: handlers.register_all adds the middleware")
    return found
