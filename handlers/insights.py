"""`/impact stats`: the workspace's insights, for managers (the routing table refuses others)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.insights import stats_blocks
from bot.messages import t
from domain.insights import Insights, week_starts
from handlers.common import DB_ERRORS, apologise, log
from handlers.context import Invocation
from storage import insights as iq
from storage.models import utcnow


def workspace_insights(session: Session, ws: int, timezone: str, now: datetime) -> Insights:
    """The workspace's figures for the 12 weeks up to `now`, weeks starting on Monday in
    `timezone` (IMPACT_TIMEZONE), in the caller's transaction; the database computes them."""
    return iq.insights(session, ws, week_starts(now, timezone), now)


def show_stats(inv: Invocation) -> None:
    """`/impact stats`: this week's figures and the last 12 weeks' chart, ephemeral."""
    lang = inv.request.language
    now = utcnow()
    try:
        ws = inv.request.workspace_id()
        with inv.services.db.session() as session:
            figures = workspace_insights(session, ws, inv.services.settings.timezone, now)
    except DB_ERRORS as e:
        log.error("could not compute insights for team %s: %r", inv.request.team_id, e)
        apologise(inv.respond, lang)
        return
    inv.respond(blocks=stats_blocks(figures, lang, now), text=t("insights.title", lang))
