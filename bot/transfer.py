"""Import and export of stories as CSV or JSON (plain values in, plain values out).

Exports are for operators (the command line): they carry every field of every story,
anonymous customers' names included, so that an export can be imported back unchanged.

CSV cells are safe to open in a spreadsheet: a cell that would start a formula (OWASP's list:
`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'`, which spreadsheets read as "this is
text". Import removes exactly that mark, so export then import gives back every field.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
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

# A cell a spreadsheet would run as a formula starts with one of these (OWASP, "CSV Injection").
FORMULA_STARTS = "=+-@\t\r"
# Cells that get the mark: those starting a formula, and those that already start with
# apostrophes before such a character (so import can tell the mark from a typed apostrophe).
_MARKED = re.compile("'*[" + re.escape(FORMULA_STARTS) + "]")
SLACK_ID_LIMIT = 32  # the stored author and channel columns
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,31}")


def neutralise_cell(value: str) -> str:
    """`value` as a CSV cell no spreadsheet runs as a formula: a leading `'` where needed."""
    return "'" + value if _MARKED.match(value) else value


def restore_cell(cell: str) -> str:
    """The exact inverse of neutralise_cell: one leading `'` is removed, and only when it is
    followed by apostrophes and then `=`, `+`, `-`, `@`, tab or carriage return."""
    return cell[1:] if cell.startswith("'") and _MARKED.match(cell, 1) else cell


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


def csv_row(story: Story) -> dict[str, str]:
    """A story as CSV cells: tags joined by ", ", credits by " ", every cell neutralised."""
    record = story_record(story)
    record["tags"] = ", ".join(story.tags)
    record["credited"] = " ".join(story.credited)
    return {k: neutralise_cell("" if v is None else str(v)) for k, v in record.items()}


def export_csv(stories: Iterable[Story]) -> str:
    out = io.StringIO()
    # Every cell quoted: a cell holding a line break or a lone CR stays one cell everywhere.
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for story in stories:
        writer.writerow(csv_row(story))
    return out.getvalue()


@dataclass(frozen=True)
class ImportRow:
    """One accepted CSV row, and the line it starts on."""

    line: int
    draft: Draft
    author: str
    created_at: datetime | None
    channel: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Rejected:
    """A row that was not imported: the line it starts on, and why."""

    line: int
    reason: str


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """The CSV's records with the (1-based) line each starts on; blank lines are skipped.

    A quoted cell may hold line breaks, so a record can span lines: csv.reader's line_num
    says where a record ends, not where it starts.
    """
    consumed = 0

    def lines() -> Iterator[str]:
        nonlocal consumed
        for line in io.StringIO(text, newline=""):
            consumed += 1
            yield line

    reader = csv.reader(lines())
    while True:
        start = consumed + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ValueError(f"line {start}: not valid CSV ({e})") from None
        if record:
            yield start, record


def _problems_with_ids(author: str, channel: str) -> list[str]:
    problems = []
    if author and (not USER_ID.match(author) or len(author) > SLACK_ID_LIMIT):
        problems.append(f"author: {author[:40]!r} is not a Slack user ID")
    if channel and not CHANNEL_ID.fullmatch(channel):
        problems.append(f"channel: {channel[:40]!r} is not a Slack channel ID")
    return problems


def read_csv(text: str) -> tuple[list[ImportRow], list[Rejected]]:
    """Rows with valid stories, and the rejected ones with a reason each, by the line they
    start on (1-based, the header is line 1). Cells are restored (restore_cell) before use.

    Raises ValueError when there is no header with the columns customer and quote.
    """
    records = _records(text)
    header_line = next(records, None)
    fields = [(f or "").strip().lower() for f in (header_line[1] if header_line else [])]
    if not {"customer", "quote"} <= set(fields):
        raise ValueError("the CSV needs a header row with at least the columns customer and quote")
    accepted: list[ImportRow] = []
    rejected: list[Rejected] = []
    for line, record in records:
        values: dict[str, str] = {}
        for name, cell in zip(fields, record, strict=False):
            if name and name not in values:
                values[name] = restore_cell(cell or "").strip()
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
        author, channel = values.get("author", ""), values.get("channel", "")
        problems += _problems_with_ids(author, channel)
        times: dict[str, datetime | None] = {}
        for column in ("created_at", "updated_at"):
            try:
                times[column] = _parse_time(values.get(column, ""))
            except ValueError:
                problems.append(f"{column}: use an ISO date such as 2026-03-01 or 2026-03-01T09:30:00Z")
        if problems:
            rejected.append(Rejected(line, "; ".join(problems)))
            continue
        accepted.append(
            ImportRow(
                line,
                draft,
                author,
                times["created_at"],
                channel=channel,
                updated_at=times["updated_at"],
            )
        )
    return accepted, rejected
