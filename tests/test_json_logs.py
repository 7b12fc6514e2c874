"""LOG_FORMAT=json: every line a log shipper reads is one JSON object, naming team, user, slot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests import test_processes
from tests.conftest import SECRET, acked_message
from tests.signing import command_body, post_signed
from tests.slack_standin import SlackStandin
from tests.test_processes import posts_to, prepare, wait_until

bots = test_processes.bots  # the fixture that starts real bot processes


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_bot_process_logs_one_json_object_per_line(tmp_path: Path, bots: Any) -> None:
    url = f"sqlite:///{tmp_path / 'json.db'}"
    # A story slot due a minute ago: the sweep posts it, and its lines name the slot.
    slot = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    prepare(url, "C1", slot).dispose()
    with SlackStandin() as standin:
        bot = bots("json", standin, url, LOG_FORMAT="json", LOG_LEVEL="DEBUG")
        bot.wait_healthy()
        body = command_body(text="Acme: they loved it", response_url=standin.response_url("x"))
        status, acked = post_signed(bot.url + "/slack/events", SECRET, body)
        assert status == 200
        assert acked_message(acked)["text"].startswith("Saved")  # confirmed in the ack
        wait_until(lambda: len(posts_to(standin, "C1")) == 1, 20, "the slot's post")
        bot.stop()
    lines = json_lines(bot.log.read_text())  # fails on any line that is not JSON
    assert lines and all({"time", "level", "message"} <= set(line) for line in lines)
    assert any(line.get("team") == "T111" and line.get("user") == "U1" for line in lines)
    assert any(line.get("slot", "").startswith("C1|story|") and line.get("team") == "T111" for line in lines)


def test_no_log_line_carries_a_slack_token() -> None:
    import logging

    from bot.logs import JsonFormatter, RedactingFormatter

    tokens = ("xoxb-1234-5678-abcdEFGH", "xoxp-1-2-3-4", "xapp-1-A111-2-abc", "xoxe-1-refresh")
    record = logging.LogRecord(
        "slack_sdk.web.base_client", logging.DEBUG, __file__, 1, "Received: %s", (str(tokens),), None
    )
    for formatter in (JsonFormatter(), RedactingFormatter("%(message)s")):
        line = formatter.format(record)
        assert not any(token in line for token in tokens), line
        assert "xoxb-…" in line and "xapp-…" in line
