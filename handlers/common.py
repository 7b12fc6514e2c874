"""What every listener needs: the workspace, the language, friendly errors."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Services
from bot.messages import language_for_locale, t
from bot.render import echo_blocks, text_blocks
from storage import queries

log = logging.getLogger("impact.handlers")

# Database errors that mean "try again later", not a bug in the request.
DB_ERRORS = (SQLAlchemyError,)
HINTED_ERRORS = ("not_in_channel", "channel_not_found")


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


def slack_error_text(error: SlackApiError, lang: str) -> str:
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


def field_errors(errors: dict[str, tuple[str, dict[str, Any]]], lang: str) -> dict[str, str]:
    """{block_id: message id and params} as the texts Slack shows under each field."""
    return {field: t(mid, lang, **params) for field, (mid, params) in errors.items()}


def say_ephemeral(respond: Any, text: str) -> None:
    respond(blocks=text_blocks(text), text=text)


def is_manager(services: Services, client: Any, context: Any, body: dict[str, Any]) -> bool:
    team, _ = team_ids(context, body)
    user = context.get("user_id") or (body.get("user") or {}).get("id") or body.get("user_id")
    return services.managers.is_manager(client, team, str(user))
