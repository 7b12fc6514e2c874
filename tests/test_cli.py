"""The command line, run as a user runs it: `python -m bot ...` in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.manifest import bot_scopes
from tests.slack_standin import SlackStandin

ROOT = Path(__file__).resolve().parents[1]


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPACT_", "DATABASE_"))}
    base.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "PYTHONPATH": str(ROOT)})
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_setting_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = run(tmp_path, "run")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "SLACK_BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_import_reports_rejects_and_export_round_trips(tmp_path: Path) -> None:
    source = tmp_path / "stories.csv"
    source.write_text(
        "customer,quote,contact,impact,kind,tags,credited,consent,source,author,created_at\n"
        'Acme,They love it,CFO,Closed books faster,praise,"finance, export",U0222 U0333,internal,'
        "https://example.com,U0111,2026-01-05\n"
        ",No customer,,,praise,,,,,,\n"
        "Beta,Wrong kind,,,rave,,,,,,\n"
        'Gamma,"Quote, with comma",,,referral,,,public,,,\n',
        encoding="utf-8",
    )
    result = run(tmp_path, "import", str(source), "--team", "T111")
    assert result.returncode == 0, result.stderr
    assert "imported 2" in result.stdout and "rejected 2" in result.stdout
    assert "line 3" in result.stderr and "customer" in result.stderr
    assert "line 4" in result.stderr and "kind" in result.stderr
    again = run(tmp_path, "import", str(source), "--team", "T111")
    assert "imported 0, already present 2" in again.stdout

    exported = json.loads(run(tmp_path, "export", "--format", "json").stdout)
    assert [s["customer"] for s in exported] == ["Acme", "Gamma"]
    required = {
        "id",
        "customer",
        "quote",
        "contact",
        "impact",
        "kind",
        "tags",
        "credited",
        "consent",
        "source",
        "author",
        "created_at",
    }
    assert required <= set(exported[0])
    assert exported[0]["tags"] == ["finance", "export"] and exported[0]["credited"] == ["U0222", "U0333"]
    assert exported[0]["created_at"].startswith("2026-01-05")

    rows = list(csv.DictReader(io.StringIO(run(tmp_path, "export", "--format", "csv").stdout)))
    assert rows[1]["quote"] == "Quote, with comma" and rows[1]["consent"] == "public"

    purged = run(tmp_path, "purge", "--customer", "acme")
    assert "erased 1" in purged.stdout
    assert [s["customer"] for s in json.loads(run(tmp_path, "export").stdout)] == ["Gamma"]


def test_export_refuses_to_mix_workspaces(tmp_path: Path) -> None:
    source = tmp_path / "s.csv"
    source.write_text("customer,quote\nAcme,hi\n")
    run(tmp_path, "import", str(source), "--team", "T1")
    run(tmp_path, "import", str(source), "--team", "T2")
    result = run(tmp_path, "export")
    assert result.returncode == 1 and "--team" in result.stderr
    assert len(json.loads(run(tmp_path, "export", "--team", "T2").stdout)) == 1


def test_doctor_reports_scopes_and_passes_when_right(tmp_path: Path) -> None:
    env: dict[str, Any] = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    with SlackStandin() as standin:
        env["SLACK_API_URL"] = standin.base_url
        run(tmp_path, "migrate")
        standin.scopes = "chat:write,commands,files:write"
        result = run(tmp_path, "doctor", **env)
        assert result.returncode == 1
        assert "lacks the scopes" in result.stdout and "users:read" in result.stdout
        assert "files:write" in result.stdout
        standin.scopes = ",".join(bot_scopes())
        result = run(tmp_path, "doctor", **env)
        assert result.returncode == 0, result.stdout
        standin.error("auth.test", "invalid_auth")
        result = run(tmp_path, "doctor", **env)
        assert result.returncode == 1 and "invalid_auth" in result.stdout


def test_post_story_posts_once_and_explains_a_missing_invite(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    source = tmp_path / "s.csv"
    source.write_text("customer,quote,author\nAcme,<!channel> we love it,U0AUTHOR\n")
    with SlackStandin() as standin:
        env["SLACK_API_URL"] = standin.base_url
        run(tmp_path, "import", str(source), "--team", "T111")
        result = run(tmp_path, "post-story", "--channel", "C1", **env)
        assert result.returncode == 0, result.stderr
        assert "posted in C1: https://" in result.stdout
        [post] = [c for c in standin.calls_to("chat.postMessage") if c.args["channel"] == "C1"]
        assert "<!channel>" not in json.dumps(post.json_arg("blocks"))
        assert [c.args["channel"] for c in standin.calls_to("chat.postMessage")].count("U0AUTHOR") == 1
        standin.error("chat.postMessage", "not_in_channel", channel="C2")
        result = run(tmp_path, "post-story", "--channel", "C2", **env)
        assert result.returncode == 1 and "/invite @Impact" in result.stderr
        assert result.stderr.count("\n") == 1


def test_doctor_reports_channels_slack_refused(tmp_path: Path) -> None:
    from bot.schedule import ScheduleSpec
    from storage import queries
    from storage import schedules as sq
    from storage.db import Database

    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    run(tmp_path, "migrate")
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with db.session() as s:
        ws = queries.workspace_id(s, "T111")
        sq.set_channel_schedules(s, ws, "C9", [ScheduleSpec("story", ("mon",), "09:00", "UTC")])
        sq.note_channel_error(s, ws, "C9", "not_in_channel")
    db.dispose()
    with SlackStandin() as standin:
        standin.scopes = ",".join(bot_scopes())
        result = run(tmp_path, "doctor", SLACK_API_URL=standin.base_url, **env)
    assert result.returncode == 1
    assert "C9" in result.stdout and "not_in_channel" in result.stdout and "/invite @Impact" in result.stdout
