"""The shape of the code, read from its imports: one way down, no circle, storage below bot."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("domain", "storage", "bot", "handlers")
# Alembic's env.py is a script Alembic runs, not part of the storage package: it may ask the
# settings loader for DATABASE_URL (so `.env` works for `alembic ...`), lazily.
SCRIPTS = {"storage.migrations.env"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    return {name: path for name, path in found.items() if ".versions." not in name and name not in SCRIPTS}


def imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file, lazily inside functions included.

    `from pkg import mod` imports pkg.mod and pkg itself (its __init__ runs first, so a module
    of pkg that does this goes round through pkg/__init__.py); `from mod import name` imports mod.
    """
    known = {module_name(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
    return found


def project_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imports(path) if m in known and m != name} for name, path in known.items()}


def top(name: str) -> str:
    return name.split(".")[0]


def test_domain_imports_nothing_of_the_app_nor_slack_nor_sqlalchemy() -> None:
    for name, path in modules().items():
        if top(name) != "domain":
            continue
        bad = {
            m
            for m in imports(path)
            if top(m) in ("bot", "handlers", "storage", "slack_sdk", "slack_bolt", "sqlalchemy")
        }
        assert not bad, f"{name} imports {sorted(bad)}"


def test_storage_imports_nothing_from_bot_or_handlers() -> None:
    for name, path in modules().items():
        if top(name) == "storage":
            bad = {m for m in imports(path) if top(m) in ("bot", "handlers")}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_no_handler_imports_the_app_factory() -> None:
    for name, path in modules().items():
        if top(name) == "handlers":
            assert "bot.app" not in imports(path), f"{name} imports bot.app"


def test_bot_behaviour_knows_no_listener() -> None:
    # bot.app wires the listeners in; nothing else in bot/ may reach up into handlers/.
    for name, path in modules().items():
        if top(name) == "bot" and name != "bot.app":
            bad = {m for m in imports(path) if top(m) == "handlers"}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_the_project_has_no_import_circle() -> None:
    graph = project_graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_checks_above_can_fail() -> None:
    # A circle planted in a copy of the graph is found, so the test above is not vacuous.
    graph = project_graph()
    assert graph["bot.app"] and "handlers" in {top(m) for m in graph["bot.app"]}
    assert "storage.queries" in graph and "domain.story" in graph["storage.queries"]
