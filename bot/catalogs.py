"""German and Dutch as gettext catalogs: where they live, and reading them when the bot starts.

The English catalog `bot.messages.EN` is the source of truth: its message ids are the msgids of
`bot/locale/<lang>/LC_MESSAGES/impact.po`, and each entry carries the English text as a
translator comment (`#.`), so a translator works in any PO editor (Poedit, Weblate, Lokalize)
without reading Python. The files are read with Babel at start; there is no compile step.
`python -m bot.i18n` keeps them in step with EN (see there).
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "impact"
TRANSLATED = ("de", "nl")  # English is EN itself
FUZZY = "fuzzy"
BRACE_FORMAT = "python-brace-format"  # lets msgfmt --check and PO editors check the placeholders
# A fixed creation date keeps `sync` from changing the header on every run.
CREATED = datetime(2026, 12, 1, tzinfo=UTC)


def po_path(lang: str) -> Path:
    """Where the catalog of `lang` lives, e.g. bot/locale/de/LC_MESSAGES/impact.po."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    """The catalog of `lang` as Babel reads it; an empty one when the file does not exist."""
    path = po_path(lang)
    if not path.exists():
        return new_catalog(lang)
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def load_translations(lang: str) -> dict[str, str]:
    """{message id: translation} of `lang`, leaving out empty msgstrs (English is used there)."""
    return {
        str(m.id): str(m.string)
        for m in read_catalog(lang)
        if m.id and isinstance(m.string, str) and m.string
    }


def placeholders(text: str) -> set[str]:
    """The named placeholders of a template, e.g. {'customer', 'channel'}."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def english_comment(english: str) -> list[str]:
    """The English text as translator comments, one per line (PO comments are single lines)."""
    return [line if line.strip() else "(empty line)" for line in english.split("\n")]


def same_text(comments: list[str] | tuple[str, ...], english: str) -> bool:
    """Whether translator comments still say `english` (the English did not change)."""
    # write_po wraps long comments, so only the words are compared, not where lines break.
    joined = " ".join(c for c in comments if c != "(empty line)")
    return joined.split() == english.split()


LANGUAGE_NAMES = {"de": "German", "nl": "Dutch"}
HEADER = """\
# {name} texts of Impact, the Slack bot (German with "du", Dutch with "je").
# msgid is the message id in bot/messages.py (EN); the English text is the "#." comment above it.
# Keep every {{placeholder}} of the English, and write as a colleague would on Slack.
# After EN changes: `python -m bot.i18n sync`; what is left to do: `python -m bot.i18n check`.
#"""


def new_catalog(lang: str) -> Catalog:
    """An empty catalog of `lang` with Impact's header."""
    return Catalog(
        locale=lang,
        domain=DOMAIN,
        header_comment=HEADER.format(name=LANGUAGE_NAMES.get(lang, lang)),
        project="Impact",
        version="1",
        msgid_bugs_address="the Impact team",
        creation_date=CREATED,
        revision_date=CREATED,
        last_translator="the Impact team",
        language_team=f"Impact {lang}",
        fuzzy=False,
    )


def write_catalog(lang: str, catalog: Catalog) -> None:
    """Write the catalog of `lang` in the one layout `sync` keeps (lines of at most 100)."""
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, include_lineno=False)
