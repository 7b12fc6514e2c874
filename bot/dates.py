"""Dates and times as each language writes them, with Babel (CLDR data), e.g. a schedule's next
run: "Monday, December 7, 09:00", "Montag, 7. Dezember, 09:00", "maandag 7 december 09:00".

Times stay on the 24-hour clock the schedule modal asks for (HH:MM), in every language.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from babel import Locale
from babel.dates import format_date, format_datetime

from bot.messages import t

TIME_PATTERN = "HH:mm"


@functools.cache
def locale_of(lang: str) -> Locale:
    """Babel's locale for one of our languages (English for anything unknown)."""
    try:
        return Locale.parse(lang)
    except (ValueError, TypeError):
        return Locale.parse("en")


@functools.cache
def _weekday_day_month(lang: str) -> str:
    """The locale's pattern for weekday, day and month, with the weekday written out in full:
    CLDR's "MMMMEd" skeleton ("E, d. MMMM" in German) with E widened to EEEE."""
    skeleton = locale_of(lang).datetime_skeletons.get("MMMMEd")
    pattern = str(skeleton.pattern) if skeleton is not None else "EEEE, MMMM d"
    if "EEEE" not in pattern:
        pattern = pattern.replace("EEE", "E").replace("E", "EEEE")
    return pattern


def _aware(when: datetime) -> datetime:
    # Stored times are UTC; a naive one (SQLite) is read as UTC.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def day_and_time(when: datetime, lang: str) -> str:
    """Weekday, day, month and time in `when`'s own time zone, e.g. "Montag, 7. Dezember, 09:00"."""
    when = _aware(when)
    locale = locale_of(lang)
    day = format_datetime(when, _weekday_day_month(lang), tzinfo=when.tzinfo, locale=locale)
    time = format_datetime(when, TIME_PATTERN, tzinfo=when.tzinfo, locale=locale)
    return t("date.day_time", lang, date=day, time=time)


def short_date(when: datetime, lang: str) -> str:
    """A date with its year, e.g. "Dec 7, 2026", "07.12.2026", "7 dec 2026" (UTC)."""
    return format_date(_aware(when).astimezone(UTC).date(), "medium", locale=locale_of(lang))


def slack_date(when: datetime | None, lang: str = "en") -> str:
    """A date Slack shows in each reader's own time zone; the fallback (clients that cannot
    render the token, notifications) is the UTC date formatted for `lang`."""
    if when is None:
        return ""
    when = _aware(when)
    return f"<!date^{int(when.timestamp())}^{{date_short}}|{short_date(when, lang)}>"
