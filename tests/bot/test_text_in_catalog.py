"""Every text a user sees comes from the message catalog: the renderers and listeners are read
for string literals that look like words for people, and for literals handed to Block Kit as
text, label, title, placeholder or hint."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RENDERERS = [
    "bot/render.py",
    "bot/home_view.py",
    "bot/manager_views.py",
    "bot/modal.py",
    "bot/prompts.py",
    "bot/complaints.py",
    "bot/insights.py",
    "bot/selection.py",
    "bot/posting.py",
    "bot/dates.py",
    "bot/languages.py",
    "bot/app.py",
]
LISTENERS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "handlers").glob("*.py"))

# Literals that look like words but are no text for people, and why.
NOT_USER_TEXT = {
    "already counted": "the outcome word of a debug log line (handlers/events.py)",
    "EEEE, MMMM d": "a CLDR date pattern, the fallback of bot.dates",
}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}
# Keyword arguments whose values are notes for operators (slot claims), never shown in Slack.
OPERATOR_NOTES = {"note"}
# Block Kit arguments that show text: a literal there is text outside the catalog, even one word.
SHOWN = {"text", "label", "title", "placeholder", "hint", "submit", "close", "confirm", "deny"}
WORD = re.compile(r"[^\W\d_]{2,}")


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Docstrings, log calls, exceptions, assertions and operator notes: not for users."""
    skipped: set[int] = set()

    def skip(node: ast.AST) -> None:
        skipped.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip(first)
        if isinstance(node, ast.Raise | ast.Assert):
            skip(node)
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in LOG_METHODS or name.endswith(("Error", "Exception", "Problem", "Uncertain")):
                skip(node)
            for keyword in node.keywords:
                if keyword.arg in OPERATOR_NOTES:
                    skip(keyword.value)
    return skipped


def sentence_like_literals(path: str, source: str | None = None) -> list[str]:
    """'path:line: text' for each literal in `path` that reads like words for people."""
    tree = ast.parse(source if source is not None else (ROOT / path).read_text())
    skipped = _skipped_nodes(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            text = node.value
            if text in NOT_USER_TEXT:
                continue
            if len(WORD.findall(text)) >= 2 and " " in text.strip():
                found.append(f"{path}:{node.lineno}: {text!r}")
        if isinstance(node, ast.Call) and id(node) not in skipped:
            for keyword in node.keywords:
                value = keyword.value
                literal = isinstance(value, ast.Constant) and isinstance(value.value, str)
                if keyword.arg in SHOWN and literal and WORD.search(str(value.value)):
                    found.append(f"{path}:{value.lineno}: {keyword.arg}={value.value!r}")
    return found


def test_renderers_and_listeners_show_only_catalog_text() -> None:
    found = [hit for path in RENDERERS + LISTENERS for hit in sentence_like_literals(path)]
    assert not found, "text outside bot/messages.py EN (add a message id):\n" + "\n".join(found)


def test_the_scan_finds_what_it_is_for() -> None:
    # A test that cannot fail is a defect: these must be caught, the rest must not.
    sample = (
        '"""A docstring is fine."""\n'
        "def render(lang):\n"
        '    log.warning("a log line is fine %s", lang)\n'
        '    claim(note="an operator note is fine")\n'
        '    section("Customer of the week")\n'
        '    Button(text="Edit")\n'
        '    return t("story.header", lang)\n'
    )
    found = sentence_like_literals("sample.py", sample)
    assert sorted(hit.split(": ", 1)[1] for hit in found) == ["'Customer of the week'", "text='Edit'"]
