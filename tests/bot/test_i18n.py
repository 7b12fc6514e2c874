"""The catalogs: every message in every language, with the English's placeholders, within Slack's
limits; the translators' sync; `t`'s fallbacks; dates as each language writes them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import catalogs, i18n
from bot.catalogs import FUZZY, TRANSLATED, placeholders, read_catalog
from bot.dates import day_and_time, short_date, slack_date
from bot.messages import CATALOG, EN, language_for_locale, t
from bot.prompts import BUILTIN_PROMPT_IDS, builtin_prompts

LANGUAGES = ("en", *TRANSLATED)

# Ids whose text is the same in every language by nature: markup around values, and the names
# of the languages in the language picker (each in its own language, as pickers show them).
SAME_EVERYWHERE = {
    "story.said",
    "story.said_customer",
    "story.kind",
    "home.schedules.channel",
    "insights.ranked",
    "insights.references.contact",
    "language.en",
    "language.de",
    "language.nl",
}
# Words the language borrowed as they are.
SAME_IN = {"nl": {"modal.tags"}, "de": set()}

# Slack's limits on the text objects these ids fill (Block Kit reference).
MODAL_TEXTS = (
    "modal.title",
    "modal.title_edit",
    "modal.submit",
    "modal.cancel",
    "schedule.title",
    "settings.title",
    "complaint.resolve.title",
    "complaint.resolve.submit",
)
SHORT_TEXTS = {  # option labels, buttons, confirm dialogs
    **{f"kind.{k}": 75 for k in ("praise", "complaint", "idea", "referral")},
    **{f"consent.{c}": 75 for c in ("internal", "anonymous", "public")},
    **{f"day.{d}": 75 for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    **{b: 75 for b in EN if b.startswith("button.")},
    "confirm.delete_title": 100,
    "confirm.post_now_title": 100,
    "confirm.delete_yes": 30,
    "confirm.delete_no": 30,
    "confirm.post_now_yes": 30,
    "confirm.post_now_no": 30,
    "modal.customer_hint": 150,
    "modal.contact_hint": 150,
}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(lang: str) -> None:
    catalog = read_catalog(lang)
    missing = [mid for mid in EN if catalog.get(mid) is None]
    assert not missing, f"{lang} lacks {missing}: run `python -m bot.i18n sync` and translate them"
    empty = [mid for mid in EN if not catalog.get(mid).string]
    assert not empty, f"{lang} has no translation for {empty}"
    fuzzy = [mid for mid in EN if FUZZY in catalog.get(mid).flags]
    assert not fuzzy, f"{lang}: the English of {fuzzy} changed; check the translations, drop the fuzzy flag"
    for mid, english in EN.items():
        translation = str(catalog.get(mid).string)
        assert placeholders(translation) == placeholders(english), (lang, mid, translation)
        # Filled as the code fills it, the translation works (no stray or broken braces).
        t(mid, lang, **dict.fromkeys(placeholders(english), "X"))
    unknown = [str(m.id) for m in catalog if m.id and str(m.id) not in EN]
    assert not unknown, f"{lang} has ids EN no longer has: {unknown} (run `python -m bot.i18n sync`)"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_are_in_use_and_differ_from_the_english(lang: str) -> None:
    assert set(CATALOG[lang]) == set(EN)
    same = SAME_EVERYWHERE | SAME_IN[lang]
    untouched = [mid for mid in EN if CATALOG[lang][mid] == EN[mid] and mid not in same]
    assert not untouched, f"{lang} still says in English: {untouched}"


def test_the_maintenance_check_passes() -> None:
    assert i18n.problems(EN) == []
    assert i18n.main(["check"]) == 0


@pytest.mark.parametrize("lang", LANGUAGES)
def test_texts_fit_slacks_limits(lang: str) -> None:
    for mid in MODAL_TEXTS:
        assert len(t(mid, lang)) <= 24, (lang, mid, t(mid, lang))
    for mid, limit in SHORT_TEXTS.items():
        assert len(t(mid, lang)) <= limit, (lang, mid, t(mid, lang))


def test_missing_translation_falls_back_to_english_and_a_broken_one_too(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(CATALOG, "de", {**CATALOG["de"], "deleted": ""})
    assert t("deleted", "de", customer="Acme") == "Deleted the story from Acme."
    monkeypatch.setitem(CATALOG, "de", {**CATALOG["de"], "deleted": "Gelöscht: {kunde}"})
    with caplog.at_level(logging.ERROR, "impact.messages"):
        assert t("deleted", "de", customer="Acme") == "Deleted the story from Acme."
    assert "deleted" in caplog.text
    assert t("deleted", "xx", customer="Acme") == "Deleted the story from Acme."


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("de-DE", "de"),
        ("de-AT", "de"),
        ("de-CH", "de"),
        ("nl-NL", "nl"),
        ("nl-BE", "nl"),
        ("en-US", "ws"),  # Slack's default for everyone who never chose: the workspace decides
        ("en-GB", "ws"),
        ("fr-FR", "ws"),
        ("ja-JP", "ws"),
        ("", "ws"),
        (None, "ws"),
    ],
)
def test_slack_locales_map_to_our_languages_else_the_workspace_default(
    locale: str | None, expected: str
) -> None:
    assert language_for_locale(locale, "ws") == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Monday, December 7 at 09:00"),
        ("de", "Montag, 7. Dezember, 09:00"),
        ("nl", "maandag 7 december 09:00"),
    ],
)
def test_next_runs_are_written_as_each_language_writes_dates(lang: str, expected: str) -> None:
    # In the schedule's own zone: 09:00 in Berlin, whatever the server's zone.
    when = datetime(2026, 12, 7, 8, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert day_and_time(when, lang) == expected


def test_slack_date_tokens_fall_back_to_the_languages_date() -> None:
    when = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    assert short_date(when, "en") == "Mar 4, 2026"
    assert short_date(when, "de") == "04.03.2026"
    assert short_date(when, "nl") == "4 mrt 2026"
    assert slack_date(when, "de") == f"<!date^{int(when.timestamp())}^{{date_short}}|04.03.2026>"
    assert slack_date(None, "de") == ""


def test_built_in_prompts_exist_in_every_language_as_questions() -> None:
    assert len(BUILTIN_PROMPT_IDS) >= 12
    for lang in LANGUAGES:
        prompts = builtin_prompts(lang)
        assert len(set(prompts)) == len(BUILTIN_PROMPT_IDS)
        assert all(p.endswith("?") for p in prompts), lang
    assert not set(builtin_prompts("de")) & set(builtin_prompts("en"))
    assert not set(builtin_prompts("nl")) & set(builtin_prompts("en"))


# --- The translators' sync -----------------------------------------------------------------


@pytest.fixture
def locale_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(catalogs, "LOCALE_DIR", tmp_path)
    return tmp_path


def test_sync_adds_new_ids_with_the_english_as_comment_and_removes_old_ones(locale_dir: Path) -> None:
    report = i18n.sync_catalog("de", {"hello": "Hello {name}!", "bye": "Bye."})
    assert report.added == ["hello", "bye"]
    text = (locale_dir / "de" / "LC_MESSAGES" / "impact.po").read_text()
    assert '#. Hello {name}!\n#, python-brace-format\nmsgid "hello"\nmsgstr ""' in text
    assert "Language: de" in text

    catalog = read_catalog("de")
    catalog.get("hello").string = "Hallo {name}!"
    catalogs.write_catalog("de", catalog)
    report = i18n.sync_catalog("de", {"hello": "Hello {name}!", "new": "New\n\nlines"})
    assert report.added == ["new"] and report.removed == ["bye"] and report.changed == []
    catalog = read_catalog("de")
    assert catalog.get("hello").string == "Hallo {name}!" and FUZZY not in catalog.get("hello").flags
    assert catalog.get("bye") is None
    assert catalog.get("new").auto_comments == ["New", "(empty line)", "lines"]
    problems = {(p.message_id, p.what) for p in i18n.problems({"hello": "Hello {name}!"}, ("de",))}
    assert problems == {("new", "not in EN (run `python -m bot.i18n sync`)")}


def test_sync_marks_a_translation_fuzzy_when_its_english_changed(locale_dir: Path) -> None:
    i18n.sync_catalog("nl", {"greet": "Hello {name}!"})
    catalog = read_catalog("nl")
    catalog.get("greet").string = "Hallo {name}!"
    catalogs.write_catalog("nl", catalog)
    # Re-wrapped or re-spaced English is no change; other words are.
    assert i18n.sync_catalog("nl", {"greet": "Hello  {name}!"}).changed == []
    report = i18n.sync_catalog("nl", {"greet": "Good morning {name}, {team}!"})
    assert report.changed == ["greet"]
    message = read_catalog("nl").get("greet")
    assert FUZZY in message.flags and message.string == "Hallo {name}!"
    problems = [p.what for p in i18n.problems({"greet": "Good morning {name}, {team}!"}, ("nl",))]
    assert any("fuzzy" in p for p in problems) and any("placeholders" in p for p in problems)
    # The translation is still used (better than English) until a translator looks at it.
    assert catalogs.load_translations("nl") == {"greet": "Hallo {name}!"}
