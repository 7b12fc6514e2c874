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
    from domain.schedule import ScheduleSpec
    from storage import channels, queries
    from storage.db import Database

    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    run(tmp_path, "migrate")
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with db.session() as s:
        ws = queries.workspace_id(s, "T111")
        channels.set_channel_schedules(s, ws, "C9", [ScheduleSpec("story", ("mon",), "09:00", "UTC")])
        channels.note_channel_error(s, ws, "C9", "not_in_channel")
    db.dispose()
    with SlackStandin() as standin:
        standin.scopes = ",".join(bot_scopes())
        result = run(tmp_path, "doctor", SLACK_API_URL=standin.base_url, **env)
    assert result.returncode == 1
    assert "C9" in result.stdout and "not_in_channel" in result.stdout and "/invite @Impact" in result.stdout


# ---- --team: team IDs, Enterprise Grid IDs, and several workspaces -------------------------------


def seed(tmp_path: Path, stories: dict[tuple[str, str], str]) -> None:
    """One story per workspace row (team_id, enterprise_id), as the bot stores them from requests."""
    from domain.story import Draft
    from storage import queries
    from storage.db import Database

    run(tmp_path, "migrate")
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with db.session() as s:
        for (team, enterprise), customer in stories.items():
            ws = queries.workspace_id(s, team, enterprise)
            queries.add_story(s, ws, Draft(customer=customer, quote="It works"), "U0AUTHOR")
    db.dispose()


def customers(tmp_path: Path, *args: str) -> list[str]:
    result = run(tmp_path, "export", *args)
    assert result.returncode == 0, result.stderr
    return [s["customer"] for s in json.loads(result.stdout)]


def test_team_may_be_an_enterprise_id(tmp_path: Path) -> None:
    # An org-wide install stored both ways: with its team, and with the enterprise as team.
    seed(tmp_path, {("T1", "E1"): "Acme", ("E2", "E2"): "Beta"})
    assert customers(tmp_path, "--team", "E1") == ["Acme"]
    assert customers(tmp_path, "--team", "T1") == ["Acme"]
    assert customers(tmp_path, "--team", "E1/T1") == ["Acme"]
    assert customers(tmp_path, "--team", "E2") == ["Beta"]
    purged = run(tmp_path, "purge", "--customer", "beta", "--team", "E2")
    assert purged.returncode == 0 and "erased 1" in purged.stdout
    assert customers(tmp_path, "--team", "E2") == []
    assert customers(tmp_path, "--team", "E1") == ["Acme"]  # the other org is untouched


def test_enterprise_with_several_workspaces_is_listed_and_nothing_happens(tmp_path: Path) -> None:
    seed(tmp_path, {("T1", "E1"): "Acme", ("T2", "E1"): "Beta", ("E1", "E1"): "Gamma", ("T3", ""): "Delta"})
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    source = tmp_path / "s.csv"
    source.write_text("customer,quote\nAcme,hi again\n")
    with SlackStandin() as standin:
        for args in (
            ("export", "--team", "E1"),
            ("purge", "--customer", "acme", "--team", "E1"),
            ("import", str(source), "--team", "E1"),
            ("post-story", "--channel", "C1", "--team", "E1"),
        ):
            result = run(tmp_path, *args, SLACK_API_URL=standin.base_url, **env)
            assert result.returncode == 1, (args, result.stdout)
            assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
            assert "3 workspaces" in result.stderr, result.stderr
            for label in ("E1/T1", "E1/T2", "E1/E1"):
                assert label in result.stderr
            assert "T3" not in result.stderr
        assert not standin.attempts_to("chat.postMessage")
    # Nothing was erased or imported; each is still reachable one by one.
    assert customers(tmp_path, "--team", "E1/T1") == ["Acme"]
    assert customers(tmp_path, "--team", "T2") == ["Beta"]
    assert customers(tmp_path, "--team", "E1/E1") == ["Gamma"]
    assert customers(tmp_path, "--team", "T3") == ["Delta"]
    # Without --team every workspace is listed, so the operator can pick one.
    result = run(tmp_path, "export")
    assert result.returncode == 1 and "4 workspaces" in result.stderr and "T3" in result.stderr


def test_post_story_with_an_enterprise_id(tmp_path: Path) -> None:
    seed(tmp_path, {("T1", "E1"): "Acme"})
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    with SlackStandin() as standin:
        result = run(
            tmp_path, "post-story", "--channel", "C1", "--team", "E1", SLACK_API_URL=standin.base_url, **env
        )
        assert result.returncode == 0, result.stderr
        [post] = [c for c in standin.calls_to("chat.postMessage") if c.args["channel"] == "C1"]
        assert "Acme" in json.dumps(post.json_arg("blocks"))


def test_export_without_team_uses_the_only_workspace_even_in_a_grid(tmp_path: Path) -> None:
    seed(tmp_path, {("T1", "E1"): "Acme"})
    assert customers(tmp_path) == ["Acme"]


def test_unknown_team_is_one_line_and_import_creates_an_org_workspace(tmp_path: Path) -> None:
    seed(tmp_path, {("T1", "E1"): "Acme"})
    result = run(tmp_path, "export", "--team", "E9")
    assert result.returncode == 1 and "E9" in result.stderr and result.stderr.count("\n") == 1
    source = tmp_path / "s.csv"
    source.write_text("customer,quote\nZeta,hi\n")
    assert run(tmp_path, "import", str(source), "--team", "E9").returncode == 0
    assert customers(tmp_path, "--team", "E9") == ["Zeta"]
    assert customers(tmp_path, "--team", "E9/E9") == ["Zeta"]  # stored as an org-wide install
    assert customers(tmp_path, "--team", "E1") == ["Acme"]


def test_doctor_checks_the_app_token_and_an_unreachable_slack(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1-A1-1-abc"}
    run(tmp_path, "migrate")
    with SlackStandin() as standin:
        standin.scopes = ",".join(bot_scopes())
        assert run(tmp_path, "doctor", SLACK_API_URL=standin.base_url, **env).returncode == 0
        standin.error("apps.connections.open", "invalid_auth")
        result = run(tmp_path, "doctor", SLACK_API_URL=standin.base_url, **env)
        assert result.returncode == 1
        assert "SLACK_APP_TOKEN" in result.stdout and "invalid_auth" in result.stdout
        closed = standin.base_url
    result = run(tmp_path, "doctor", SLACK_API_URL=closed, **env)  # the stand-in is gone now
    assert result.returncode == 1 and "cannot reach Slack" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_post_story_in_oauth_mode_uses_the_workspace_installation(tmp_path: Path) -> None:
    from slack_sdk.oauth.installation_store import Installation
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    from storage.db import Database

    seed(tmp_path, {("T1", "E1"): "Acme", ("E2", "E2"): "Beta", ("T3", ""): "Gamma"})
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    store = SQLAlchemyInstallationStore(client_id="1234.5678", engine=db.engine)
    store.metadata.create_all(db.engine)
    store.save(
        Installation(
            app_id="A1",
            bot_id="B1",
            bot_user_id="UB1",
            user_id="U1",
            enterprise_id="E1",
            team_id="T1",
            bot_token="xoxb-of-t1",
        )
    )
    store.save(
        Installation(
            app_id="A1",
            bot_id="B2",
            bot_user_id="UB2",
            user_id="U2",
            enterprise_id="E2",
            team_id=None,
            bot_token="xoxb-of-e2",
            is_enterprise_install=True,
        )
    )
    db.dispose()
    env = {"SLACK_CLIENT_ID": "1234.5678", "SLACK_CLIENT_SECRET": "0a1b2c3d", "SLACK_SIGNING_SECRET": "s"}
    with SlackStandin() as standin:
        for team, channel, token in (("E1", "C1", "xoxb-of-t1"), ("E2", "C2", "xoxb-of-e2")):
            result = run(
                tmp_path,
                "post-story",
                "--channel",
                channel,
                "--team",
                team,
                SLACK_API_URL=standin.base_url,
                **env,
            )
            assert result.returncode == 0, result.stderr
            [post] = [c for c in standin.calls_to("chat.postMessage") if c.args["channel"] == channel]
            assert post.token == token
        result = run(
            tmp_path, "post-story", "--channel", "C3", "--team", "T3", SLACK_API_URL=standin.base_url, **env
        )
        assert result.returncode == 1 and "T3" in result.stderr and "/slack/install" in result.stderr
        assert result.stderr.count("\n") == 1
        assert not [c for c in standin.attempts_to("chat.postMessage") if c.args.get("channel") == "C3"]
