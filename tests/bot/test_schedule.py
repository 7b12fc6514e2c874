"""Schedule times across time zones and daylight-saving changes; the schedule form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.manager_views import read_schedule_form
from bot.schedule import next_run, slots_between
from domain.schedule import ScheduleSpec, parse_skip_dates, parse_time, slot_key


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_berlin_monday_nine_follows_daylight_saving() -> None:
    spec = ScheduleSpec("story", ("mon",), "09:00", "Europe/Berlin")
    slots = list(slots_between(spec, utc(2026, 3, 20), utc(2026, 4, 10)))
    # CET (UTC+1) before 29 March, CEST (UTC+2) after.
    assert slots == [utc(2026, 3, 23, 8), utc(2026, 3, 30, 7), utc(2026, 4, 6, 7)]
    autumn = list(slots_between(spec, utc(2026, 10, 20), utc(2026, 11, 3)))
    assert autumn == [utc(2026, 10, 26, 8), utc(2026, 11, 2, 8)]


def test_new_york_changes_on_its_own_date() -> None:
    spec = ScheduleSpec("prompt", ("mon", "wed"), "09:00", "America/New_York")
    slots = list(slots_between(spec, utc(2026, 3, 1), utc(2026, 3, 12)))
    assert slots == [utc(2026, 3, 2, 14), utc(2026, 3, 4, 14), utc(2026, 3, 9, 13), utc(2026, 3, 11, 13)]


def test_time_repeated_at_fall_back_posts_once() -> None:
    spec = ScheduleSpec("story", ("sun",), "02:30", "Europe/Berlin")
    slots = list(slots_between(spec, utc(2026, 10, 17), utc(2026, 11, 2)))
    assert slots == [utc(2026, 10, 18, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 11, 1, 1, 30)]


def test_time_missing_at_spring_forward_still_posts_that_day() -> None:
    spec = ScheduleSpec("story", ("sun",), "02:30", "Europe/Berlin")
    slots = list(slots_between(spec, utc(2026, 3, 28), utc(2026, 3, 30)))
    assert len(slots) == 1 and slots[0].date() == datetime(2026, 3, 29).date()


def test_bounds_are_exclusive_then_inclusive() -> None:
    spec = ScheduleSpec("story", ("mon",), "09:00", "UTC")
    assert list(slots_between(spec, utc(2026, 11, 23, 9), utc(2026, 11, 30, 9))) == [utc(2026, 11, 30, 9)]


def test_next_run_skips_holidays_in_local_time() -> None:
    spec = ScheduleSpec("story", ("thu",), "09:00", "Pacific/Auckland")
    # Thursday 24 Dec 2026 09:00 in Auckland is Wednesday 23 Dec 20:00 UTC.
    assert next_run(spec, utc(2026, 12, 20)) == utc(2026, 12, 23, 20)
    assert next_run(spec, utc(2026, 12, 20), ["2026-12-24"]) == utc(2026, 12, 30, 20)


def test_parsers() -> None:
    assert parse_time("9:05") == "09:05" and parse_time("23:59") == "23:59"
    assert parse_time("24:00") is None and parse_time("9am") is None and parse_time("") is None
    assert parse_skip_dates("2026-12-25, 2026-12-24 xmas") == (["2026-12-24", "2026-12-25"], ["xmas"])
    assert slot_key("C1", "story", utc(2026, 11, 23, 9)) == "C1|story|2026-11-23T09:00Z"


def form(
    story_days=("mon",), story_time="09:00", tz="Europe/Berlin", prompt_days=(), prompt_time="", skip=""
):  # type: ignore[no-untyped-def]
    def days(d):  # type: ignore[no-untyped-def]
        return {"value": {"type": "checkboxes", "selected_options": [{"value": x} for x in d]}}

    def text(v):  # type: ignore[no-untyped-def]
        return {"value": {"type": "plain_text_input", "value": v}}

    return {
        "state": {
            "values": {
                "story_days": days(story_days),
                "story_time": text(story_time),
                "prompt_days": days(prompt_days),
                "prompt_time": text(prompt_time),
                "timezone": text(tz),
                "skip_dates": text(skip),
                "tags": text("#Onboarding, export"),
                "language": {"value": {"type": "static_select", "selected_option": None}},
            }
        }
    }


def test_schedule_form_valid() -> None:
    parsed, errors = read_schedule_form(
        form(prompt_days=("tue", "thu"), prompt_time="9:30", skip="2026-12-24")
    )
    assert errors == {} and parsed is not None
    assert [(s.kind, s.weekdays, s.time, s.timezone) for s in parsed.specs] == [
        ("story", ("mon",), "09:00", "Europe/Berlin"),
        ("prompt", ("tue", "thu"), "09:30", "Europe/Berlin"),
    ]
    assert parsed.skip_dates == ["2026-12-24"] and parsed.tags == ("onboarding", "export")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"story_time": "25:00"}, "story_time"),
        ({"tz": "Berlin"}, "timezone"),
        ({"story_days": ()}, "story_days"),
        ({"skip": "someday"}, "skip_dates"),
        ({"prompt_days": ("fri",), "prompt_time": "noon"}, "prompt_time"),
    ],
)
def test_schedule_form_errors_are_inline(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    parsed, errors = read_schedule_form(form(**kwargs))
    assert parsed is None and field in errors
