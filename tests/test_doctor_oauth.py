"""`impact-bot doctor` in OAuth mode, run as an operator runs it (`python -m bot doctor`), against
the Slack stand-in and two installations stored in a real database (a SQLite file and the local
PostgreSQL): client id and secret, the redirect URL, and each installation's scopes, token and
failed channels. No secret ever appears in what it prints."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

from bot.manifest import bot_scopes
from domain.schedule import ScheduleSpec
from storage import channels, claims, queries
from storage.db import Database
from tests.slack_standin import Call, SlackStandin

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID = "1234.5678"
CLIENT_SECRET = "s3cr3t-client-secret-value"
SIGNING_SECRET = "signing-secret-value-42"
TOKENS = {"T1": "xoxb-token-of-acme-1111", "T2": "xoxb-token-of-globex-2222", "E5": "xoxb-token-of-org-5555"}
REDIRECT = "https://impact.example.com/slack/oauth_redirect"
SECRETS = (CLIENT_SECRET, SIGNING_SECRET, *TOKENS.values())
INSTALLED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def install(
    db: Database,
    team: str,
    name: str,
    scopes: list[str],
    enterprise: str | None = None,
    at: datetime = INSTALLED,
    org_wide: bool = False,
) -> None:
    """Store an installation as the OAuth flow does (slack_sdk's SQLAlchemy installation store)."""
    store = SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=db.engine)
    store.save(
        Installation(
            app_id="A111",
            enterprise_id=enterprise,
            enterprise_name=name if org_wide else None,
            team_id=None if org_wide else team,
            team_name=None if org_wide else name,
            bot_token=TOKENS[team],
            bot_id=f"B{team}",
            bot_user_id=f"UB{team}",
            bot_scopes=scopes,
            user_id="UINSTALLER",
            is_enterprise_install=org_wide,
            installed_at=at.timestamp(),
        )
    )


@pytest.fixture
def two_installs(any_db: Database) -> Database:
    """Acme (T1) and Globex (T2 in the grid E9), each with every scope the manifest asks for."""
    install(any_db, "T1", "Acme", bot_scopes())
    install(any_db, "T2", "Globex", bot_scopes(), enterprise="E9")
    return any_db


def slack_oauth(call: Call) -> dict[str, Any]:
    """oauth.v2.access as Slack answers it: client id, then secret (HTTP Basic), then the code."""
    auth = call.headers.get("authorization", "")
    user, _, password = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
    client_id = user or call.args.get("client_id")
    secret = password or call.args.get("client_secret")
    if client_id != CLIENT_ID:
        return {"ok": False, "error": "invalid_client_id"}
    if secret != CLIENT_SECRET:
        return {"ok": False, "error": "bad_client_secret"}
    return {"ok": False, "error": "invalid_code"}


def slack_auth_test(revoked: set[str]) -> Any:
    names = {token: team for team, token in TOKENS.items()}

    def answer(call: Call) -> dict[str, Any]:
        if call.token in revoked:
            return {"ok": False, "error": "token_revoked"}
        if call.token not in names:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "team": "from auth.test", "team_id": names[call.token], "user_id": "UBOT"}

    return answer


@pytest.fixture
def slack() -> Any:
    with SlackStandin() as standin:
        standin.answer("oauth.v2.access", slack_oauth)
        standin.answer("auth.test", slack_auth_test(set()))
        yield standin


def manifest(tmp_path: Path, redirect_urls: list[str] | None) -> None:
    """The operator's manifest.json in the working directory: the repository's, with redirect URLs."""
    data = json.loads((ROOT / "manifest.json").read_text())
    if redirect_urls is not None:
        data["oauth_config"]["redirect_urls"] = redirect_urls
    (tmp_path / "manifest.json").write_text(json.dumps(data))


def doctor(
    tmp_path: Path, db: Database, slack: SlackStandin | str, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPACT_", "DATABASE_"))}
    base.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": db.url,
            "SLACK_API_URL": slack if isinstance(slack, str) else slack.base_url,
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_REDIRECT_URI": REDIRECT,
        }
    )
    base.update(env)
    base = {k: v for k, v in base.items() if v}  # an empty value: unset
    result = subprocess.run(
        [sys.executable, "-m", "bot", "doctor"],
        cwd=tmp_path,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown, shown
    for secret in SECRETS:
        assert secret not in shown, f"doctor printed a secret: {shown}"
    return result


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.strip() for line in result.stdout.splitlines()]


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line[2:] for line in lines(result) if line.startswith("✗ ")]


def test_all_well_lists_both_installations_and_exits_0(
    tmp_path: Path, two_installs: Database, slack: SlackStandin
) -> None:
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, two_installs, slack)
    assert result.returncode == 0, result.stdout
    out = lines(result)
    assert (
        f"✓ SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: Slack accepts them (oauth.v2.access answered "
        f"invalid_code to a test code, client id {CLIENT_ID})" in out
    )
    assert any(line.startswith(f"✓ redirect URL {REDIRECT} (SLACK_REDIRECT_URI)") for line in out), out
    assert "install link: https://impact.example.com/slack/install" in out
    assert f"2 installations of client id {CLIENT_ID}:" in out
    assert "Acme (T1), installed 2026-11-02 09:30 UTC" in out
    assert "Globex (T2, enterprise E9), installed 2026-11-02 09:30 UTC" in out
    assert out.count(f"✓ scopes: all {len(bot_scopes())} the manifest asks for") == 2
    assert out.count("✓ bot token works (auth.test)") == 2
    assert out.count("✓ no failed posts in the last 7 days") == 2
    assert out[-1] == "✓ all checks passed" and not problems(result)
    # Asked Slack once about the credentials (HTTP Basic, a code that exchanges nothing) and
    # once per installation with that installation's own token.
    [exchange] = slack.attempts_to("oauth.v2.access")
    assert exchange.args.get("code") == "impact-doctor-not-a-code"
    assert sorted(c.token or "" for c in slack.attempts_to("auth.test")) == [TOKENS["T1"], TOKENS["T2"]]


def test_wrong_client_id_is_named_with_its_fix(
    tmp_path: Path, two_installs: Database, slack: SlackStandin
) -> None:
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, two_installs, slack, SLACK_CLIENT_ID="9999.0000")
    assert result.returncode == 1
    [problem] = problems(result)
    assert problem.startswith(
        "SLACK_CLIENT_ID: Slack knows no app with the client id 9999.0000 (invalid_client_id)"
    )
    assert "Basic Information" in problem
    assert "1 problem: fix it, then run `impact-bot doctor` again" in result.stdout


def test_wrong_client_secret_is_named_with_its_fix(
    tmp_path: Path, two_installs: Database, slack: SlackStandin
) -> None:
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, two_installs, slack, SLACK_CLIENT_SECRET="not-the-secret-at-all")
    assert result.returncode == 1
    [problem] = problems(result)
    assert problem.startswith("SLACK_CLIENT_SECRET: Slack rejected the client secret of client id 1234.5678")
    assert "(bad_client_secret)" in problem and "App Credentials" in problem
    assert "not-the-secret-at-all" not in result.stdout + result.stderr


def test_missing_scopes_are_named_per_installation(
    tmp_path: Path, any_db: Database, slack: SlackStandin
) -> None:
    install(any_db, "T1", "Acme", bot_scopes())
    install(any_db, "T2", "Globex", ["chat:write", "commands"], enterprise="E9")
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, any_db, slack)
    assert result.returncode == 1
    lacking = sorted(set(bot_scopes()) - {"chat:write", "commands"})
    assert problems(result) == [
        f"Globex (T2, enterprise E9): the installation lacks the scopes {', '.join(lacking)}: reinstall "
        "the app to grant them (open https://impact.example.com/slack/install in that workspace)"
    ]
    assert lines(result).count(f"✓ scopes: all {len(bot_scopes())} the manifest asks for") == 1


def test_revoked_token_says_uninstalled(tmp_path: Path, two_installs: Database, slack: SlackStandin) -> None:
    slack.answer("auth.test", slack_auth_test({TOKENS["T2"]}))
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, two_installs, slack)
    assert result.returncode == 1
    [problem] = problems(result)
    assert problem.startswith(
        "Globex (T2, enterprise E9): Slack refused its bot token (token_revoked): the app"
    )
    assert "uninstalled" in problem and "https://impact.example.com/slack/install" in problem
    assert lines(result).count("✓ bot token works (auth.test)") == 1


def test_failed_channels_are_listed_under_their_installation(
    tmp_path: Path, two_installs: Database, slack: SlackStandin
) -> None:
    db = two_installs
    now = datetime.now(UTC)
    spec = [ScheduleSpec("story", ("mon",), "09:00", "UTC")]
    with db.session() as s:
        acme, globex = queries.workspace_id(s, "T1"), queries.workspace_id(s, "T2", "E9")
        gone = queries.workspace_id(s, "T3")  # never installed: nothing to report or fix
        channels.set_channel_schedules(s, acme, "C9", spec)
        channels.note_channel_error(s, acme, "C9", "not_in_channel")
        channels.set_channel_schedules(s, gone, "C3", spec)
        channels.note_channel_error(s, gone, "C3", "not_in_channel")
    # Globex: two failed slots in C7; in C8 a failure followed by a post, so C8 is fine now.
    claims.record_slot(db, globex, "C7", "story", now - timedelta(days=2), "failed", "channel_not_found")
    claims.record_slot(db, globex, "C7", "story", now - timedelta(days=1), "failed", "channel_not_found")
    claims.record_slot(db, globex, "C8", "story", now - timedelta(days=2), "failed", "channel_not_found")
    claims.record_slot(db, globex, "C8", "story", now - timedelta(days=1), "posted", "")
    claims.record_slot(db, globex, "C6", "story", now - timedelta(days=30), "failed", "is_archived")
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, db, slack)
    assert result.returncode == 1
    found = problems(result)
    assert len(found) == 2, found
    acme_line, globex_line = found
    assert acme_line.startswith("Acme (T1): scheduled posts in channel C9 failed (not_in_channel)")
    assert "/invite @Impact" in acme_line
    assert globex_line.startswith(
        "Globex (T2, enterprise E9): scheduled posts in channel C7 failed "
        "(channel_not_found, 2 slots, the last at"
    )
    assert "C8" not in result.stdout and "C6" not in result.stdout and "C3" not in result.stdout
    out = lines(result)
    # Each installation's findings follow its own heading.
    assert out.index("Acme (T1), installed 2026-11-02 09:30 UTC") < out.index(f"✗ {acme_line}")
    assert out.index(f"✗ {acme_line}") < out.index(
        "Globex (T2, enterprise E9), installed 2026-11-02 09:30 UTC"
    )


@pytest.mark.parametrize(
    ("redirect", "expected"),
    [
        ("http://impact.example.com/slack/oauth_redirect", ["is not an https URL"]),
        ("https://impact.example.com/oauth/callback", ["has the path /oauth/callback", "is not among"]),
        ("https://other.example.com/slack/oauth_redirect", ["is not among"]),
    ],
)
def test_bad_redirect_url_is_explained(
    tmp_path: Path, two_installs: Database, slack: SlackStandin, redirect: str, expected: list[str]
) -> None:
    manifest(tmp_path, [REDIRECT, "http://impact.example.com/slack/oauth_redirect"])
    result = doctor(tmp_path, two_installs, slack, SLACK_REDIRECT_URI=redirect)
    assert result.returncode == 1
    found = problems(result)
    assert len(found) == len(expected), found
    for problem, text in zip(found, expected, strict=True):
        assert problem.startswith(f"the redirect URL {redirect} (SLACK_REDIRECT_URI) ") and text in problem
    if "path" in expected[0]:
        assert "use https://impact.example.com/slack/oauth_redirect" in found[0]


def test_redirect_url_without_setting_and_http_on_localhost(
    tmp_path: Path, sqlite_url: str, slack: SlackStandin
) -> None:
    db = Database(sqlite_url)
    db.migrate()
    install(db, "T1", "Acme", bot_scopes())
    # No SLACK_REDIRECT_URI, none in the manifest: what Slack will use is said, not failed.
    manifest(tmp_path, None)
    result = doctor(tmp_path, db, slack, SLACK_REDIRECT_URI="")
    assert result.returncode == 0, result.stdout
    assert "redirect URL: SLACK_REDIRECT_URI is not set" in result.stdout
    assert "https://YOUR-HOST/slack/oauth_redirect" in result.stdout
    # Not set, but the manifest lists one: that one is what Slack uses, and it is checked.
    manifest(tmp_path, ["http://localhost:3000/slack/oauth_redirect"])
    result = doctor(tmp_path, db, slack, SLACK_REDIRECT_URI="")
    assert result.returncode == 0, result.stdout
    assert (
        "✓ redirect URL http://localhost:3000/slack/oauth_redirect (SLACK_REDIRECT_URI is not set; the "
        "first redirect URL of manifest.json" in result.stdout
    )
    # Only in .env: read like every other setting, so the OAuth flow uses it and doctor checks it.
    (tmp_path / ".env").write_text(f"SLACK_REDIRECT_URI={REDIRECT}\n")
    result = doctor(tmp_path, db, slack, SLACK_REDIRECT_URI="")
    assert result.returncode == 1, result.stdout  # it is read: and it is not in the manifest's list
    assert problems(result)[0].startswith(f"the redirect URL {REDIRECT} (SLACK_REDIRECT_URI) is not among")
    db.dispose()


def test_unreachable_slack_is_one_line(tmp_path: Path, two_installs: Database) -> None:
    with SlackStandin() as gone:
        closed = gone.base_url
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, two_installs, closed)
    assert result.returncode == 1
    [problem] = problems(result)
    assert problem.startswith(f"SLACK_API_URL: cannot reach Slack at {closed}")
    # The installations are still listed from the database, their tokens not tried.
    assert "Acme (T1), installed 2026-11-02 09:30 UTC" in lines(result)
    assert lines(result).count("bot token not checked: Slack did not answer") == 2


def test_a_reinstall_replaces_the_old_installation_and_its_old_failures(
    tmp_path: Path, any_db: Database, slack: SlackStandin
) -> None:
    db = any_db
    install(db, "T1", "Acme", bot_scopes())
    install(db, "T2", "Globex", ["chat:write"], enterprise="E9")
    install(db, "E5", "Initech", bot_scopes(), enterprise="E5", org_wide=True)
    with db.session() as s:
        globex = queries.workspace_id(s, "T2", "E9")
    # Globex's token was refused, then Globex reinstalled with every scope: both are over.
    claims.record_slot(db, globex, "C7", "story", datetime.now(UTC), "failed", "token_revoked")
    install(db, "T2", "Globex", bot_scopes(), enterprise="E9", at=datetime.now(UTC))
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, db, slack)
    assert result.returncode == 0, result.stdout
    out = lines(result)
    assert f"3 installations of client id {CLIENT_ID}:" in out
    assert "Initech (org-wide install, enterprise E5), installed 2026-11-02 09:30 UTC" in out
    assert out.count(f"✓ scopes: all {len(bot_scopes())} the manifest asks for") == 3
    assert out.count("✓ bot token works (auth.test)") == 3
    assert "C7" not in result.stdout
    # The same failure after the reinstall is this installation's, and is reported.
    claims.record_slot(
        db, globex, "C7", "story", datetime.now(UTC) + timedelta(days=1), "failed", "token_revoked"
    )
    result = doctor(tmp_path, db, slack)
    assert result.returncode == 1
    [problem] = problems(result)
    assert problem.startswith(
        "Globex (T2, enterprise E9): scheduled posts in channel C7 failed (token_revoked"
    )
    assert "reinstall the app through https://impact.example.com/slack/install" in problem


def test_no_installation_yet_is_no_problem_but_an_answer_not_from_slack_is(
    tmp_path: Path, sqlite_url: str, slack: SlackStandin
) -> None:
    db = Database(sqlite_url)
    db.migrate()
    manifest(tmp_path, [REDIRECT])
    result = doctor(tmp_path, db, slack)
    assert result.returncode == 0, result.stdout
    assert (
        "no workspace has installed the app yet: open https://impact.example.com/slack/install to "
        "install it" in lines(result)
    )
    # Something that is not Slack's Web API: the credentials could not be checked, and it says so.
    slack.answer("oauth.v2.access", {"ok": False, "error": "unknown_method"})
    result = doctor(tmp_path, db, slack)
    assert result.returncode == 1
    [problem] = problems(result)
    assert problem.startswith(f"SLACK_API_URL: {slack.base_url} answered oauth.v2.access with unknown_method")
    db.dispose()


def install_through_the_flow(app: Any, code: str, team: str, name: str, scopes: list[str]) -> str:
    """Open /slack/install, let the stand-in grant `code` for `team`, follow Slack's redirect back
    to /slack/oauth_redirect as a browser does; the bot token the workspace got."""
    with urllib.request.urlopen(app.url + "/slack/install", timeout=10) as resp:
        cookie = resp.headers["Set-Cookie"].split(";")[0]
    state = cookie.partition("=")[2]
    grant = app.standin.grant_code(code, team, name, scopes=scopes)
    request = urllib.request.Request(
        f"{app.url}/slack/oauth_redirect?code={code}&state={state}", headers={"Cookie": cookie}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    return str(grant.bot_token)


def test_installations_made_by_the_oauth_flow(
    tmp_path: Path, make_app: Any, any_db: Database, standin: SlackStandin
) -> None:
    """No answer overridden: the stand-in checks the credentials and exchanges codes as Slack
    does, and the app stores both installations through its own OAuth flow."""
    standin.oauth_app(CLIENT_ID, CLIENT_SECRET)
    app = make_app(any_db, bot_token=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    tokens = [
        install_through_the_flow(app, "code-acme", "T1", "Acme", bot_scopes()),
        install_through_the_flow(app, "code-globex", "T2", "Globex", ["commands", "chat:write"]),
    ]
    redirect = f"{app.url}/slack/oauth_redirect"  # http on 127.0.0.1: allowed, it is local
    manifest(tmp_path, [redirect])
    result = doctor(tmp_path, any_db, standin, SLACK_REDIRECT_URI=redirect)
    shown = result.stdout + result.stderr
    assert all(token not in shown for token in tokens)
    assert result.returncode == 1
    out = lines(result)
    assert out[0].startswith("✓ SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: Slack accepts them")
    assert (
        f"✓ redirect URL {redirect} (SLACK_REDIRECT_URI): served by the bot at /slack/oauth_redirect, "
        f"listed in manifest.json ({tmp_path / 'manifest.json'})" in out
    )
    assert out.count("✓ bot token works (auth.test)") == 2
    lacking = sorted(set(bot_scopes()) - {"commands", "chat:write"})
    assert problems(result) == [
        f"Globex (T2): the installation lacks the scopes {', '.join(lacking)}: reinstall the app to grant "
        f"them (open {app.url}/slack/install in that workspace)"
    ]
    # The right client id with the wrong secret, against the same stand-in.
    result = doctor(tmp_path, any_db, standin, SLACK_REDIRECT_URI=redirect, SLACK_CLIENT_SECRET="wrong-one")
    assert problems(result)[0].startswith("SLACK_CLIENT_SECRET: Slack rejected the client secret")
