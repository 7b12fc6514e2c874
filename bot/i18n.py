"""Keeping the German and Dutch catalogs in step with EN (bot/messages.py), for translators.

    python -m bot.i18n sync    add new ids (empty msgstr, the English as a `#.` comment), drop
                               removed ones, mark entries whose English changed as fuzzy
    python -m bot.i18n check   list what is untranslated, fuzzy or has other placeholders than
                               the English (exit status 1 when anything is)

Translators then fill in msgstr with any PO editor and remove the fuzzy flag once checked;
the bot reads the files at start (see bot.catalogs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from babel.messages.catalog import Message

from bot.catalogs import (
    BRACE_FORMAT,
    CREATED,
    FUZZY,
    TRANSLATED,
    english_comment,
    new_catalog,
    placeholders,
    read_catalog,
    same_text,
    write_catalog,
)
from bot.messages import EN


@dataclass
class SyncReport:
    """What `sync` changed in one catalog."""

    lang: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # English changed: now fuzzy

    def __str__(self) -> str:
        return (
            f"{self.lang}: {len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.changed)} marked fuzzy (English changed)"
        )


def sync_catalog(lang: str, english: Mapping[str, str]) -> SyncReport:
    """Bring one .po file in step with `english`, in EN's order; translations are kept."""
    old = read_catalog(lang)
    report = SyncReport(lang)
    fresh = new_catalog(lang)
    fresh.creation_date = old.creation_date or CREATED
    fresh.revision_date = old.revision_date or CREATED
    if old.last_translator and "EMAIL@ADDRESS" not in old.last_translator:
        fresh.last_translator = old.last_translator
    for message_id, text in english.items():
        before = old.get(message_id)
        flags: set[str] = set()
        translation = ""
        if before is None:
            report.added.append(message_id)
        else:
            translation = str(before.string or "")
            if FUZZY in before.flags or (translation and not same_text(before.auto_comments, text)):
                flags.add(FUZZY)
                if FUZZY not in before.flags:
                    report.changed.append(message_id)
        message = Message(
            message_id,
            translation,
            auto_comments=english_comment(text),
            user_comments=list(before.user_comments) if before is not None else [],
            flags=flags,
        )
        if placeholders(text):
            # Babel decides this flag from the msgid, which is an id here, not the English.
            message.flags.add(BRACE_FORMAT)
        fresh[message_id] = message
    report.removed = [str(m.id) for m in old if m.id and str(m.id) not in english]
    write_catalog(lang, fresh)
    return report


@dataclass(frozen=True)
class Problem:
    """An entry a translator has to look at."""

    lang: str
    message_id: str
    what: str

    def __str__(self) -> str:
        return f"{self.lang} {self.message_id}: {self.what}"


def problems(english: Mapping[str, str], langs: tuple[str, ...] = TRANSLATED) -> list[Problem]:
    """Every id missing, untranslated, fuzzy, unknown to EN or with other placeholders than EN."""
    found: list[Problem] = []
    for lang in langs:
        catalog = read_catalog(lang)
        for message_id, text in english.items():
            message = catalog.get(message_id)
            if message is None:
                found.append(Problem(lang, message_id, "missing (run `python -m bot.i18n sync`)"))
                continue
            translation = str(message.string or "")
            if not translation:
                found.append(Problem(lang, message_id, "not translated"))
                continue
            if FUZZY in message.flags:
                found.append(Problem(lang, message_id, "fuzzy: the English changed, check the translation"))
            try:
                theirs = placeholders(translation)
            except ValueError as e:
                found.append(Problem(lang, message_id, f"not a valid template: {e}"))
                continue
            if theirs != placeholders(text):
                found.append(
                    Problem(
                        lang,
                        message_id,
                        f"placeholders {sorted(theirs)} instead of {sorted(placeholders(text))}",
                    )
                )
        for message in catalog:
            if message.id and str(message.id) not in english:
                found.append(Problem(lang, str(message.id), "not in EN (run `python -m bot.i18n sync`)"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.i18n", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("sync", "check"))
    args = parser.parse_args(argv)
    if args.command == "sync":
        for lang in TRANSLATED:
            print(sync_catalog(lang, EN))
    found = problems(EN)
    if args.command == "check":
        for problem in found:
            print(problem, file=sys.stderr)
    total = len(EN)
    for lang in TRANSLATED:
        open_items = len({p.message_id for p in found if p.lang == lang})
        print(f"{lang}: {total - open_items} of {total} messages translated and checked")
    return 1 if found and args.command == "check" else 0


if __name__ == "__main__":
    raise SystemExit(main())
