"""Rendering insights and references: pure functions from plain values to Block Kit.

Everything users typed (customer names, quotes, tags) is escaped here; mentions come only from
stored user IDs and channel IDs. Lists are capped, so a page stays inside Slack's limits (3000
characters per text, 50 blocks per message) whatever the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock, PlainTextObject

from bot.messages import t
from bot.render import (
    HEADER_LIMIT,
    blockquote,
    channel_mention,
    context,
    format_date,
    mention,
    one_line,
    query_text,
    section,
    shorten,
)
from domain.insights import AgedComplaint, Insights, WeeklyCounts
from domain.story import KINDS, Story

BARS = "▁▂▃▄▅▆▇█"
NO_BAR = "·"  # a week without a story: visibly empty, unlike the lowest bar
CHART_ROWS = 8  # kinds drawn; the four known kinds always, others (imports) after them
LABEL_LIMIT = 20
NAME_LIMIT = 80  # a customer's name in a list
QUOTE_LIMIT = 500  # a reference's quote
LIST_LIMIT = 5  # entries of each list (colleagues, customers, complaints, channels); the rest counted
REFERENCE_LIMIT = 10  # references listed; 1 + 2 per reference + 1 blocks stay far below 50


# --- The chart -------------------------------------------------------------------------


def bar(count: int, peak: int) -> str:
    """One week as a bar: none for 0, else one of eight heights scaled to `peak`."""
    if count <= 0 or peak <= 0:
        return NO_BAR
    level = min(len(BARS), max(1, math.ceil(count * len(BARS) / peak)))
    return BARS[level - 1]


def chart_rows(per_week: Sequence[WeeklyCounts], weeks: int) -> list[WeeklyCounts]:
    """The rows to draw: every known kind (zeros too, so the chart keeps its shape), then any
    other stored kind, at most CHART_ROWS."""
    found = {row.kind: row for row in per_week}
    rows = [found.get(kind) or WeeklyCounts(kind, (0,) * weeks) for kind in KINDS]
    rows += [row for kind, row in sorted(found.items()) if kind not in KINDS]
    return rows[:CHART_ROWS]


def _kind_label(kind: str, lang: str) -> str:
    label = t(f"kind.{kind}", lang) if kind in KINDS else kind
    return shorten(one_line(label), LABEL_LIMIT)


def chart_text(per_week: Sequence[WeeklyCounts], weeks: int, lang: str) -> str:
    """Rows of Unicode bars, one per kind and one bar per week (oldest left), with the total,
    in a code block so the columns line up. One scale for all rows, so heights compare."""
    rows = chart_rows(per_week, weeks)
    peak = max((max(row.counts, default=0) for row in rows), default=0)
    labels = [_kind_label(row.kind, lang) for row in rows]
    width = max(len(label) for label in labels)
    digits = max(len(str(row.total)) for row in rows)
    lines = [
        f"{label.ljust(width)}  {''.join(bar(c, peak) for c in row.counts)}  {str(row.total).rjust(digits)}"
        for label, row in zip(labels, rows, strict=True)
    ]
    return "```" + "\n".join(lines) + "```"


# --- Figures as text -------------------------------------------------------------------


def duration_text(delta: timedelta, lang: str) -> str:
    """'less than an hour', '5 hours', '3 days'."""
    hours = int(delta.total_seconds() // 3600)
    if hours < 1:
        return t("insights.duration.under_hour", lang)
    if hours < 48:
        return t("insights.duration.hour" if hours == 1 else "insights.duration.hours", lang, count=hours)
    days = hours // 24
    return t("insights.duration.days", lang, count=days)


def summary_text(insights: Insights, lang: str) -> str:
    return t(
        "insights.summary",
        lang,
        weeks=len(insights.week_starts),
        logged=insights.logged_this_week,
        featured=insights.featured_this_week,
        reactions=insights.reactions_this_week,
        logged_total=insights.logged,
        featured_total=insights.featured,
        reactions_total=insights.reactions,
    )


def credited_text(insights: Insights, lang: str) -> str:
    """The colleagues credited most, as mentions the bot builds from stored user IDs."""
    lines = [t("insights.credited.title", lang)]
    shown = [(mention(r.name), r.count) for r in insights.credited if mention(r.name)][:LIST_LIMIT]
    for rank, (person, count) in enumerate(shown, start=1):
        lines.append(t("insights.ranked", lang, rank=rank, name=person, count=count))
    if not shown:
        lines.append(t("insights.credited.empty", lang))
    return "\n".join(lines)


def customers_text(insights: Insights, lang: str) -> str:
    """The customers mentioned most (escaped); anonymous stories are counted, not named."""
    lines = [t("insights.customers.title", lang)]
    for rank, ranked in enumerate(insights.customers[:LIST_LIMIT], start=1):
        name = f"*{shorten(one_line(ranked.name), NAME_LIMIT)}*"
        lines.append(t("insights.ranked", lang, rank=rank, name=name, count=ranked.count))
    if not insights.customers:
        lines.append(t("insights.customers.empty", lang))
    if insights.anonymous_stories:
        lines.append(t("insights.customers.anonymous", lang, count=insights.anonymous_stories))
    return "\n".join(lines)


def _complaint_line(complaint: AgedComplaint, lang: str, now: datetime) -> str:
    name = (
        t("insights.anonymous", lang)
        if complaint.consent == "anonymous"
        else shorten(one_line(complaint.customer), NAME_LIMIT)
    )
    age = duration_text(now - complaint.opened_at, lang)
    return t("insights.complaints.line", lang, customer=name, age=age)


def median_text(insights: Insights, lang: str) -> str:
    weeks = len(insights.week_starts)
    if insights.median_resolution is None:
        return t("insights.median.none", lang, weeks=weeks)
    return t("insights.median", lang, weeks=weeks, duration=duration_text(insights.median_resolution, lang))


def complaints_text(insights: Insights, lang: str, now: datetime) -> str:
    """Open complaints, the oldest first with their age, and the median time to resolve."""
    lines = [t("insights.complaints.title", lang, count=insights.open_complaints)]
    shown = insights.oldest_complaints[:LIST_LIMIT]
    lines += [_complaint_line(c, lang, now) for c in shown]
    more = insights.open_complaints - len(shown)
    if more > 0 and shown:
        lines.append(t("insights.more", lang, count=more))
    lines.append(median_text(insights, lang))
    return "\n".join(lines)


def quiet_text(insights: Insights, lang: str) -> str:
    """Channels with schedules but no story featured or logged there in four weeks."""
    lines = [t("insights.quiet.title", lang)]
    shown = insights.quiet[:LIST_LIMIT]
    for channel in shown:
        where = channel_mention(channel.channel_id)
        if channel.last_featured is None:
            lines.append(t("insights.quiet.never", lang, channel=where))
        else:
            lines.append(
                t(
                    "insights.quiet.featured",
                    lang,
                    channel=where,
                    date=format_date(channel.last_featured, lang),
                )
            )
    more = insights.quiet_channels - len(shown)
    if more > 0 and shown:
        lines.append(t("insights.more", lang, count=more))
    if not shown:
        lines.append(t("insights.quiet.none", lang))
    else:
        lines.append(t("insights.quiet.hint", lang))
    return "\n".join(lines)


# --- Pages -----------------------------------------------------------------------------


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=text[:HEADER_LIMIT]))


def insight_blocks(
    insights: Insights, lang: str, now: datetime, *, with_complaints: bool = True
) -> list[Block]:
    """The figures as blocks (no header): this week and the span, the chart, who and what came
    up most, open complaints (or only the median, where another section lists them), quiet
    channels. At most 8 blocks."""
    weeks = len(insights.week_starts)
    caption = t(
        "insights.chart.caption",
        lang,
        first=format_date(insights.week_starts[0], lang) if insights.week_starts else "",
    )
    blocks: list[Block] = [
        section(summary_text(insights, lang)),
        section(t("insights.chart.title", lang) + "\n" + chart_text(insights.per_week, weeks, lang)),
        context(caption),
        section(credited_text(insights, lang)),
        section(customers_text(insights, lang)),
    ]
    if with_complaints:
        blocks.append(section(complaints_text(insights, lang, now)))
    else:
        blocks.append(context(median_text(insights, lang)))
    blocks.append(section(quiet_text(insights, lang)))
    return blocks


def stats_blocks(insights: Insights, lang: str, now: datetime) -> list[dict[str, Any]]:
    """The `/impact stats` message."""
    blocks: list[Block] = [_header(t("insights.title", lang)), *insight_blocks(insights, lang, now)]
    return [b.to_dict() for b in blocks]


def home_insight_blocks(insights: Insights, lang: str, now: datetime) -> list[Block]:
    """The managers' App Home section: the same figures; open complaints have their own section."""
    return [
        DividerBlock(),
        _header(t("insights.home.title", lang)),
        *insight_blocks(insights, lang, now, with_complaints=False),
    ]


# --- References ------------------------------------------------------------------------


def _reference_blocks(story: Story, lang: str) -> list[Block]:
    head = f"*{shorten(one_line(story.customer), NAME_LIMIT)}*"
    if story.kind == "referral":
        head += " · " + t("insights.references.referral", lang)
    parts = []
    if one_line(story.contact):
        parts.append(
            t("insights.references.contact", lang, contact=shorten(one_line(story.contact), NAME_LIMIT))
        )
    author = mention(story.author)
    if author:
        parts.append(t("insights.references.logged_by", lang, author=author))
    if story.created_at:
        parts.append(format_date(story.created_at, lang))
    if story.tags:
        parts.append(shorten(", ".join(story.tags), NAME_LIMIT))
    blocks: list[Block] = [section(head + "\n" + shorten(story.quote or " ", QUOTE_LIMIT, blockquote))]
    if parts:
        blocks.append(context(" · ".join(parts)))
    return blocks


def references_blocks(
    stories: Sequence[Story], lang: str, query: str = "", more: bool = False
) -> list[dict[str, Any]]:
    """The `/impact references` list: public stories only (the query decides that), each with
    the customer, the quote and who logged it, to ask them for an introduction."""
    blocks: list[Block] = [section(references_title(lang, query))]
    for story in stories[:REFERENCE_LIMIT]:
        if story.consent != "public":
            continue  # never, whatever a caller passed
        blocks += _reference_blocks(story, lang)
    if more:
        blocks.append(context(t("insights.references.more", lang, count=REFERENCE_LIMIT)))
    return [b.to_dict() for b in blocks]


def references_title(lang: str, query: str = "") -> str:
    """The reply's notification text."""
    if query:
        return query_text("insights.references.title_query", lang, query)
    return t("insights.references.title", lang)


def references_empty(lang: str, query: str = "") -> str:
    """Nothing public matches: say so, and suggest logging a referral."""
    if query:
        return query_text("insights.references.empty_query", lang, query)
    return t("insights.references.empty", lang)
