"""What many listeners share: friendly errors, manager checks, and never raising after an ack."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.logs import set_about
from bot.managers import ManagerCheckUnavailable
from bot.messages import t
from bot.render import echo_blocks, text_blocks
from bot.services import Services
from bot.slack_client import quick_client
from handlers.context import Request

log = logging.getLogger("impact.handlers")

# Database errors that mean "try again later", not a bug in the request.
DB_ERRORS = (SQLAlchemyError,)
HINTED_ERRORS = ("not_in_channel", "channel_not_found")


def slack_error_text(error: Exception, lang: str) -> str:
    """What to tell the user about a failed Web API call: Slack's error, or no answer at all."""
    if not isinstance(error, SlackApiError) or error.response.status_code != 200:
        return t("slack_unreachable", lang)
    code = str(error.response.get("error", "unknown"))
    if code in HINTED_ERRORS:
        return t(f"slack_error.{code}", lang)
    return t("slack_error.other", lang, error=code)


def apologise(respond: Callable[..., object], lang: str, typed: str = "") -> None:
    """Tell the user the database is unavailable; echo what they typed so nothing is lost."""
    if typed:
        respond(blocks=echo_blocks(t("db_unavailable", lang), typed), text=t("db_unavailable", lang))
    else:
        respond(text=t("db_unavailable_short", lang))


def tell_failure(respond: Callable[..., object], message: str, typed: str = "") -> None:
    """An ephemeral note of what went wrong, echoing the user's text so nothing is lost."""
    if typed:
        respond(blocks=echo_blocks(message, typed), text=message)
    else:
        say_ephemeral(respond, message)


def field_errors(errors: dict[str, tuple[str, dict[str, Any]]], lang: str) -> dict[str, str]:
    """{block_id: message id and params} as the texts Slack shows under each field."""
    return {field: t(mid, lang, **params) for field, (mid, params) in errors.items()}


def say_ephemeral(respond: Callable[..., object], text: str) -> None:
    """A short ephemeral answer (catalog text, no user input)."""
    respond(blocks=text_blocks(text), text=text)


def is_manager(
    services: Services, client: WebClient, request: Request, *, before_ack: bool = False
) -> bool | None:
    """Whether the user is a manager; None when Slack cannot say now (logged).

    Before an ack there is no time for Slack's retries: one short call, or a cached answer.
    """
    if request.user_id is None:
        return False
    ask = quick_client(client) if before_ack else client
    try:
        return services.managers.is_manager(ask, request.team_id, request.user_id)
    except ManagerCheckUnavailable as e:
        log.warning(
            "could not check manager rights of %s in team %s: %s", request.user_id, request.team_id, e
        )
        return None


def refusal(manager: bool | None, lang: str) -> str:
    """Why a manager action is not done: not a manager, or Slack could not say."""
    return t("manager_only" if manager is False else "manager_check_failed", lang)


def direct_message(client: WebClient, user: str, text: str) -> None:
    """A direct message to a user; a failure is logged (there is no other way to reach them)."""
    try:
        client.chat_postMessage(channel=user, text=text)
    except Exception as e:  # noqa: BLE001 - logged once, with the reason
        log.warning("could not send a direct message to %s: %r", user, e)


def never_raises(listener: Callable[..., None]) -> Callable[..., None]:
    """Run a listener so that nothing it raises after its ack escapes to Bolt.

    Bolt forgets an ack when the listener raises afterwards, then keeps Slack waiting 3 s and
    tries the next listener. After the ack the failure is logged once, with the team and the
    reason; before the ack it is raised, so Bolt's error handler answers (see bot.app).
    """

    @functools.wraps(listener)
    def run(**kwargs: Any) -> None:
        # Listeners run on Bolt's worker threads: say again what their log lines are about.
        request = (kwargs.get("context") or {}).get("impact_request")
        if request is not None:
            set_about(team=request.team_id, user=request.user_id)
        try:
            listener(**kwargs)
        except Exception as e:
            ack = kwargs.get("ack")
            if ack is not None and getattr(ack, "response", None) is None:
                raise
            context = kwargs.get("context")
            team = context.get("team_id") if context is not None else None
            log.error("%s failed after its ack (team %s): %r", listener.__name__, team, e)

    return run
