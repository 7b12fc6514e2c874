"""The App Home tab: a pure builder from plain values to a Block Kit home view."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.insights import home_insight_blocks
from bot.manager_views import ACTION_HOME_POST, schedule_lines
from bot.messages import t
from bot.render import HEADER_LIMIT, button_text, context, escape, mrkdwn, section, story_summary
from domain.home import AuthorImpact
from domain.insights import Insights
from domain.schedule import ChannelSchedule
from domain.story import Story
from domain.viewer import Viewer

HOME_BLOCK_LIMIT = 100  # Slack's limit for a Home tab view
RECENT_LIMIT = 5
COMPLAINT_LIMIT = 5


@dataclass(frozen=True)
class ManagerHome:
    """What only managers see: schedules per channel and the open complaints."""

    schedules: Sequence[ChannelSchedule]
    open_complaints: int
    complaints: Sequence[Story]


def _section(text: str) -> SectionBlock:
    # Safe mrkdwn (escaped user text, catalog text), verbatim and cut to Slack's limit.
    return section(text)


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=text[:HEADER_LIMIT]))


def _context(text: str) -> ContextBlock:
    return context(text)


def _mine_blocks(mine: AuthorImpact, recent: Sequence[Story], lang: str, viewer: Viewer) -> list[Block]:
    stats = t("home.mine.stats", lang, stories=mine.stories, featured=mine.featured, reactions=mine.reactions)
    blocks: list[Block] = [_header(t("home.mine.title", lang)), _section(stats)]
    if mine.stories == 0:
        blocks.append(_context(t("home.mine.empty", lang)))
    blocks += [DividerBlock(), _header(t("home.recent.title", lang))]
    if not recent:
        blocks.append(_section(t("home.recent.empty", lang)))
    for story in recent[:RECENT_LIMIT]:
        # Anonymous stories name their customer only to their author and managers.
        blocks.append(_section(story_summary(story, viewer, lang)))
    return blocks


def _complaint_blocks(manager: ManagerHome, lang: str, viewer: Viewer) -> list[Block]:
    blocks: list[Block] = [
        DividerBlock(),
        _header(t("home.complaints.title", lang, count=manager.open_complaints)),
    ]
    shown = list(manager.complaints[:COMPLAINT_LIMIT])
    if not shown:
        blocks.append(_section(t("home.complaints.empty", lang)))
    blocks += [_section(story_summary(story, viewer, lang)) for story in shown]
    if manager.open_complaints > len(shown) > 0:
        blocks.append(
            _context(t("home.complaints.more", lang, shown=len(shown), count=manager.open_complaints))
        )
    return blocks


def _by_channel(schedules: Sequence[ChannelSchedule]) -> list[tuple[str, list[ChannelSchedule]]]:
    grouped: dict[str, list[ChannelSchedule]] = {}
    for schedule in schedules:
        grouped.setdefault(schedule.channel_id, []).append(schedule)
    return list(grouped.items())


def _channel_block(channel: str, schedules: list[ChannelSchedule], now: datetime, lang: str) -> SectionBlock:
    specs = [s.spec for s in schedules]
    try:
        lines = schedule_lines(specs, list(schedules[0].skip_dates), now, lang)
    except (ValueError, LookupError, OSError):
        # A stored time or zone that no longer parses must not take the whole Home tab down.
        lines = "\n".join(
            escape(f"• {t(f'schedule.kind.{s.spec.kind}', lang)}: {s.spec.time} ({s.spec.timezone})")
            for s in schedules
        )
    block = _section(t("home.schedules.channel", lang, channel=escape(channel), lines=lines))
    block.accessory = ButtonElement(
        text=button_text(t("button.post_now", lang)),
        action_id=ACTION_HOME_POST,
        # The publish time makes a double-clicked Post now go out once (see Poster.post_story_now).
        value=json.dumps({"c": channel, "n": now.isoformat()}, separators=(",", ":")),
        confirm=ConfirmObject(
            title=t("confirm.post_now_title", lang),
            text=mrkdwn(t("confirm.post_now_text", lang, channel=escape(channel))),
            confirm=t("confirm.post_now_yes", lang),
            deny=t("confirm.post_now_no", lang),
        ),
    )
    return block


def _schedule_blocks(manager: ManagerHome, now: datetime, lang: str, budget: int) -> list[Block]:
    """The schedules, one section per channel, within `budget` blocks."""
    blocks: list[Block] = [DividerBlock(), _header(t("home.schedules.title", lang))]
    channels = _by_channel(manager.schedules)
    if not channels:
        return [*blocks, _section(t("home.schedules.empty", lang))]
    room = budget - len(blocks)
    fits = channels if len(channels) <= room else channels[: max(0, room - 1)]
    blocks += [_channel_block(channel, schedules, now, lang) for channel, schedules in fits]
    if len(fits) < len(channels):
        blocks.append(_context(t("home.schedules.more", lang, count=len(channels) - len(fits))))
    return blocks


def home_view(
    lang: str,
    mine: AuthorImpact,
    recent: Sequence[Story],
    now: datetime,
    manager: ManagerHome | None = None,
    *,
    viewer: Viewer,
    insights: Insights | None = None,
) -> dict[str, Any]:
    """The Home tab as `viewer` (whose tab it is) may see it: their own impact and recent
    voices; for managers also schedules with Post now and the open complaints. All user text
    is escaped by story_summary, and anonymous customers are named only as `viewer` may see."""
    blocks = _mine_blocks(mine, recent, lang, viewer)
    if manager is not None:
        complaints = _complaint_blocks(manager, lang, viewer)
        # This week's insights (managers only), last; the schedules take the room left.
        figures = home_insight_blocks(insights, lang, now) if insights is not None else []
        budget = HOME_BLOCK_LIMIT - len(blocks) - len(complaints) - len(figures)
        blocks += _schedule_blocks(manager, now, lang, budget)
        blocks += complaints
        blocks += figures
    return View(type="home", blocks=blocks[:HOME_BLOCK_LIMIT]).to_dict()


def unavailable_view(lang: str) -> dict[str, Any]:
    """A Home tab saying the database could not be reached (replaced on the next open)."""
    return View(type="home", blocks=[_section(t("db_unavailable_short", lang))]).to_dict()
