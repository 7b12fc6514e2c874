"""What every listener needs: the workspace, the language, friendly errors."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Services
from bot.managers import ManagerCheckUnavailable
from bot.messages import language_for_locale, t
from bot.render import echo_blocks, text_blocks
from bot.slack_client import quick_client
from storage import queries

log = logging.getLogger("impact.handlers")

# Database errors that mean "try again later", not a bug in the request.
DB_ERRORS = (SQLAlchemyError,)
HINTED_ERRORS = ("not_in_channel", "channel_not_found")
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{1,30}$")


def user_of(context: Any, body: dict[str, Any]) -> str | None:
    """The Slack user ID who sent the request, or None when the payload has none that is valid."""
    user = body.get("user")
    candidate = context.get("user_id") or (user.get("id") if isinstance(user, dict) else None)
    candidate = candidate or body.get("user_id")
    return candidate if isinstance(candidate, str) and SLACK_USER.match(candidate) else None


def team_ids(context: Any, body: dict[str, Any]) -> tuple[str, str]:
    """(team_id, enterprise_id) of the request; org-wide installs fall back to the org."""
    team = context.get("team_id") or body.get("team_id") or (body.get("team") or {}).get("id")
    enterprise = context.get("enterprise_id") or ""
    return str(team or enterprise or ""), str(enterprise or "")


def workspace(services: Services, context: Any, body: dict[str, Any]) -> int:
    """The workspace row id for this request (created on first use)."""
    team, enterprise = team_ids(context, body)
    with services.db.session() as session:
        return queries.workspace_id(session, team, enterprise)


def language(services: Services, body: dict[str, Any]) -> str:
    """The user's Slack locale where Slack sends it, else the workspace default."""
    locale = (body.get("user") or {}).get("locale") or body.get("locale")
    return language_for_locale(locale, services.settings.language)


def slack_error_text(error: Exception, lang: str) -> str:
    """What to tell the user about a failed Web API call: Slack's error, or no answer at all."""
    if not isinstance(error, SlackApiError) or error.response.status_code != 200:
        return t("slack_unreachable", lang)
    code = str(error.response.get("error", "unknown"))
    if code in HINTED_ERRORS:
        return t(f"slack_error.{code}", lang)
    return t("slack_error.other", lang, error=code)


def apologise(respond: Any, lang: str, typed: str = "") -> None:
    """Tell the user the database is unavailable; echo what they typed so nothing is lost."""
    if typed:
        respond(blocks=echo_blocks(t("db_unavailable", lang), typed), text=t("db_unavailable", lang))
    else:
        respond(text=t("db_unavailable_short", lang))


def tell_failure(respond: Any, message: str, typed: str = "") -> None:
    """An ephemeral note of what went wrong, echoing the user's text so nothing is lost."""
    if typed:
        respond(blocks=echo_blocks(message, typed), text=message)
    else:
        say_ephemeral(respond, message)


def field_errors(errors: dict[str, tuple[str, dict[str, Any]]], lang: str) -> dict[str, str]:
    """{block_id: message id and params} as the texts Slack shows under each field."""
    return {field: t(mid, lang, **params) for field, (mid, params) in errors.items()}


def say_ephemeral(respond: Any, text: str) -> None:
    respond(blocks=text_blocks(text), text=text)


def is_manager(
    services: Services, client: Any, context: Any, body: dict[str, Any], *, before_ack: bool = False
) -> bool | None:
    """Whether the user is a manager; None when Slack cannot say now (logged).

    Before an ack there is no time for Slack's retries: one short call, or a cached answer.
    """
    team, _ = team_ids(context, body)
    user = context.get("user_id") or (body.get("user") or {}).get("id") or body.get("user_id")
    ask = quick_client(client) if before_ack and client is not None else client
    try:
        return services.managers.is_manager(ask, team, str(user))
    except ManagerCheckUnavailable as e:
        log.warning("could not check manager rights of %s in team %s: %s", user, team, e)
        return None


def never_raises(listener: Callable[..., None]) -> Callable[..., None]:
    """Run a listener so that nothing it raises after its ack escapes to Bolt.

    Bolt forgets an ack when the listener raises afterwards, then keeps Slack waiting 3 s and
    tries the next listener. After the ack the failure is logged once, with the team and the
    reason; before the ack it is raised, so Bolt's error handler answers (see bot.app).
    """

    @functools.wraps(listener)
    def run(**kwargs: Any) -> None:
        try:
            listener(**kwargs)
        except Exception as e:
            ack = kwargs.get("ack")
            if ack is not None and getattr(ack, "response", None) is None:
                raise
            body = kwargs.get("body") or {}
            team = (
                body.get("team_id") or (body.get("team") or {}).get("id") if isinstance(body, dict) else None
            )
            log.error("%s failed after its ack (team %s): %r", listener.__name__, team, e)

    return run
