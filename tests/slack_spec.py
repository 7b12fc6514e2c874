"""Check recorded Slack Web API calls against Slack's published OpenAPI (swagger 2) spec.

The spec lives in the ``shared/`` checkout beside the repo (CI clones both side by side).
It is old, so it knows nothing of newer methods/arguments; a method it lacks is still
reported, and a test that uses one on purpose can filter that problem out.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

SPEC_PATH = (
    Path(__file__).resolve().parents[2] / "shared" / "slack-web-api-spec" / "slack_web_openapi_v2.json"
)

# sent in the Authorization header by slack_sdk, never as an argument
_IGNORED_PARAMS = frozenset({"token"})
_PSEUDO_METHODS = frozenset({"response_url"})


class CallLike(Protocol):
    """What the checker needs from a call (``tests.slack_standin.Call`` fits)."""

    method: str
    args: dict[str, Any]


@functools.cache
def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """Load and cache the OpenAPI document."""
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


@functools.cache
def method_params(method: str) -> dict[str, dict[str, Any]] | None:
    """Parameters (name -> swagger parameter object) of ``method`` over all its verbs.

    Returns None when the spec has no such method.
    """
    ops = load_spec()["paths"].get("/" + method)
    if ops is None:
        return None
    params: dict[str, dict[str, Any]] = {}
    for op in ops.values():
        if not isinstance(op, dict):
            continue
        for param in op.get("parameters", []):
            # a parameter required under any verb counts as required
            prev = params.get(param["name"])
            if prev is None or (param.get("required") and not prev.get("required")):
                params[param["name"]] = param
    return params


def required_args(method: str) -> list[str]:
    """Names of the formData/query arguments the spec marks required for ``method``."""
    params = method_params(method) or {}
    return sorted(
        name
        for name, p in params.items()
        if p.get("required") and p.get("in") in ("formData", "query") and name not in _IGNORED_PARAMS
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def check_call(call: CallLike) -> list[str]:
    """Return the problems of one recorded call (empty when it matches the spec)."""
    if call.method in _PSEUDO_METHODS:
        return []
    if method_params(call.method) is None:
        return [f"{call.method}: method not in Slack's Web API spec"]
    return [
        f"{call.method}: required argument {name!r} missing"
        for name in required_args(call.method)
        if _missing(call.args.get(name))
    ]


def assert_calls_match_spec(calls: Iterable[CallLike]) -> None:
    """Raise AssertionError listing every problem found in ``calls``."""
    problems = [problem for call in calls for problem in check_call(call)]
    if problems:
        raise AssertionError("Slack calls do not match the Web API spec:\n  " + "\n  ".join(problems))
