"""Import and export of stories as CSV or JSON (plain values in, plain values out)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.messages import t
from domain.story import USER_ID, Draft, Story, split_tags, validate

EXPORT_FIELDS = (
    "id",
    "customer",
    "quote",
    "contact",
    "impact",
    "kind",
    "tags",
    "credited",
    "consent",
    "source",
    "author",
    "channel",
    "created_at",
    "updated_at",
)


def story_record(story: Story) -> dict[str, Any]:
    """A story as a JSON-ready dict with every exported field."""
    return {
        "id": story.id,
        "customer": story.customer,
        "quote": story.quote,
        "contact": story.contact,
        "impact": story.impact,
        "kind": story.kind,
        "tags": list(story.tags),
        "credited": list(story.credited),
        "consent": story.consent,
        "source": story.source,
        "author": story.author,
        "channel": story.channel,
        "created_at": story.created_at.isoformat() if story.created_at else None,
        "updated_at": story.updated_at.isoformat() if story.updated_at else None,
    }


def export_json(stories: Iterable[Story]) -> str:
    return json.dumps([story_record(s) for s in stories], ensure_ascii=False, indent=2) + "\n"


def export_csv(stories: Iterable[Story]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for story in stories:
        record = story_record(story)
        record["tags"] = ", ".join(story.tags)
        record["credited"] = " ".join(story.credited)
        writer.writerow(record)
    return out.getvalue()


@dataclass(frozen=True)
class ImportRow:
    """One accepted CSV row."""

    line: int
    draft: Draft
    author: str
    created_at: datetime | None


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_csv(text: str) -> tuple[list[ImportRow], list[Rejected]]:
    """Rows with valid stories, and the rejected ones with a reason each (line numbers 1-based)."""
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
    if not {"customer", "quote"} <= fields:
        raise ValueError("the CSV needs a header row with at least the columns customer and quote")
    accepted: list[ImportRow] = []
    rejected: list[Rejected] = []
    for row in reader:
        line = reader.line_num
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
        credited = tuple(u for u in re.split(r"[\s,;]+", values.get("credited", "")) if u)
        draft = Draft(
            customer=values.get("customer", ""),
            quote=values.get("quote", ""),
            contact=values.get("contact", ""),
            impact=values.get("impact", ""),
            kind=values.get("kind", "") or "praise",
            tags=split_tags(values.get("tags", "")),
            credited=credited,
            consent=values.get("consent", "") or "internal",
            source=values.get("source", ""),
        ).cleaned()
        problems = [f"{field}: {t(mid, 'en', **params)}" for field, (mid, params) in validate(draft).items()]
        author = values.get("author", "")
        if author and not USER_ID.match(author):
            problems.append(f"author: {author!r} is not a Slack user ID")
        try:
            created_at = _parse_time(values.get("created_at", ""))
        except ValueError:
            problems.append("created_at: use an ISO date such as 2026-03-01 or 2026-03-01T09:30:00Z")
            created_at = None
        if problems:
            rejected.append(Rejected(line, "; ".join(problems)))
        else:
            accepted.append(ImportRow(line, draft, author, created_at))
    return accepted, rejected
