"""Start-up failures, as an operator meets them: `python -m bot run` prints one line and stops.

Each case runs the real command in a subprocess (cwd a temp dir, settings from the environment)
against the Slack stand-in, a closed port, or a database that is not there; Socket Mode and HTTP
mode alike. Beside them, fast tests of `bot.startup` itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.startup import SlackIdentity, StartupError, check_slack
from tests.conftest import require_postgresql
from tests.slack_standin import SlackStandin

ROOT = Path(__file__).resolve().parents[1]
SECRET = "8f14e45fceea167a5a36dedd4bea2543"
MODES = {
    "http": {"SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": ""},
    "socket": {"SLACK_APP_TOKEN": "xapp-1-A0TEST-1-abcdef", "SLACK_SIGNING_SECRET": ""},
}


def closed_port() -> int:
    """A local port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(tmp_path: Path, **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPACT_", "DATABASE_"))}
    base.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'impact.db'}",
            "HOST": "127.0.0.1",
            "PORT": str(closed_port()),
        }
    )
    base.update(env)
    return base


def start(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """`python -m bot run` until it exits; the result and how long it took."""
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - began


def assert_refused(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit non-zero with exactly one non-empty line on stderr naming each of `names`."""
    assert result.returncode != 0, result.stderr
    line = result.stderr.rstrip("\n")
    assert line.strip() and "\n" not in line, result.stderr
    assert "Traceback" not in result.stderr
    for name in names:
        assert name in line, line
    return line


@pytest.fixture(params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings of one mode (HTTP or Socket Mode) with a real-looking bot token."""
    return {"SLACK_BOT_TOKEN": "xoxb-1234-5678-AbCdEfGh", **MODES[request.param]}


# ---- Slack ----------------------------------------------------------------------------------


def test_unreachable_slack_is_one_line(tmp_path: Path, mode: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/"
    result, seconds = start(tmp_path, SLACK_API_URL=url, **mode)
    assert_refused(result, "SLACK_API_URL", url, "connection refused")
    assert seconds < 10


def test_hanging_slack_gives_up_after_a_short_deadline(
    tmp_path: Path, mode: dict[str, str], standin: SlackStandin
) -> None:
    standin.delay("auth.test", 30)
    result, seconds = start(tmp_path, SLACK_API_URL=standin.base_url, **mode)
    assert_refused(result, "SLACK_API_URL", "auth.test", "5 s")
    assert 4 < seconds < 15
    assert len(standin.attempts_to("auth.test")) == 1


@pytest.mark.parametrize("code", ["invalid_auth", "token_revoked", "account_inactive"])
def test_rejected_token_is_one_line_and_asked_once(
    tmp_path: Path, mode: dict[str, str], standin: SlackStandin, code: str
) -> None:
    standin.error("auth.test", code)
    result, seconds = start(tmp_path, SLACK_API_URL=standin.base_url, **mode)
    assert_refused(result, "SLACK_BOT_TOKEN", code, "OAuth")
    assert len(standin.attempts_to("auth.test")) == 1  # one call, not retried
    assert not standin.attempts_to("apps.connections.open")  # nothing else was tried
    assert seconds < 10


def test_slack_down_is_one_line(tmp_path: Path, mode: dict[str, str], standin: SlackStandin) -> None:
    standin.fail("auth.test", 503, times=None)
    result, _ = start(tmp_path, SLACK_API_URL=standin.base_url, **mode)
    assert_refused(result, "auth.test", "503", "start again")
    assert len(standin.attempts_to("auth.test")) == 1


def test_env_example_as_dotenv_is_refused(tmp_path: Path) -> None:
    """A `.env` copied from `.env.example` never starts until every placeholder is replaced."""
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    token = "xoxb-1234-5678-AbCdEfGh"
    result, _ = start(tmp_path)
    assert_refused(result, "SLACK_BOT_TOKEN", "placeholder")
    result, _ = start(tmp_path, SLACK_BOT_TOKEN=token)
    assert_refused(result, "SLACK_SIGNING_SECRET", "placeholder")
    result, _ = start(tmp_path, SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=SECRET)
    assert_refused(result, "SLACK_APP_TOKEN", "placeholder")
    result, _ = start(tmp_path, SLACK_BOT_TOKEN=token, SLACK_APP_TOKEN="xapp-1-A0TEST-1-abcdef")
    assert_refused(result, "SLACK_SIGNING_SECRET", "placeholder")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-your-bot-token"),
        ("SLACK_SIGNING_SECRET", "your-signing-secret"),
        ("SLACK_APP_TOKEN", "xapp-your-app-token"),
    ],
)
def test_placeholder_is_refused_before_slack_is_asked(
    tmp_path: Path, mode: dict[str, str], standin: SlackStandin, variable: str, value: str
) -> None:
    result, seconds = start(tmp_path, SLACK_API_URL=standin.base_url, **{**mode, variable: value})
    assert_refused(result, variable, "placeholder")
    assert not standin.attempts
    assert seconds < 10


# ---- Socket Mode's own connection -------------------------------------------------------------


@pytest.mark.parametrize("code", ["invalid_auth", "not_allowed_token_type"])
def test_rejected_app_token_is_one_line(tmp_path: Path, standin: SlackStandin, code: str) -> None:
    standin.error("apps.connections.open", code)
    env = {"SLACK_BOT_TOKEN": "xoxb-1234-5678-AbCdEfGh", **MODES["socket"]}
    result, seconds = start(tmp_path, SLACK_API_URL=standin.base_url, **env)
    assert_refused(result, "SLACK_APP_TOKEN", code)
    assert len(standin.attempts_to("auth.test")) == 1
    assert len(standin.attempts_to("apps.connections.open")) == 1
    assert seconds < 10


def test_hanging_socket_mode_connect_gives_up(tmp_path: Path, standin: SlackStandin) -> None:
    standin.delay("apps.connections.open", 30)
    env = {"SLACK_BOT_TOKEN": "xoxb-1234-5678-AbCdEfGh", **MODES["socket"]}
    result, seconds = start(tmp_path, SLACK_API_URL=standin.base_url, **env)
    assert_refused(result, "apps.connections.open", "5 s")
    assert seconds < 15


def test_unreachable_websocket_is_one_line(tmp_path: Path, standin: SlackStandin) -> None:
    standin.answer("apps.connections.open", {"ok": True, "url": f"ws://127.0.0.1:{closed_port()}/link/"})
    env = {"SLACK_BOT_TOKEN": "xoxb-1234-5678-AbCdEfGh", **MODES["socket"]}
    result, seconds = start(tmp_path, SLACK_API_URL=standin.base_url, **env)
    assert_refused(result, "Socket Mode", "WebSocket", "refused")
    assert seconds < 10


# ---- the database and the listen address -----------------------------------------------------


def _database_cases(tmp_path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    return {
        "missing directory": (f"sqlite:///{tmp_path}/nowhere/impact.db", ("DATABASE_URL", "mkdir -p")),
        "not a directory": (f"sqlite:///{a_file}/impact.db", ("DATABASE_URL", "not a directory")),
        "unwritable": ("sqlite:////proc/impact.db", ("DATABASE_URL", "/proc/impact.db", "write")),
        "server down": (
            f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/impact",
            ("DATABASE_URL", "refused", "server is running"),
        ),
        "no driver": ("mysql://impact@127.0.0.1/impact", ("DATABASE_URL", "driver")),
    }


@pytest.mark.parametrize(
    "case", ["missing directory", "not a directory", "unwritable", "server down", "no driver"]
)
def test_unusable_database_is_one_line(
    tmp_path: Path, mode: dict[str, str], standin: SlackStandin, case: str
) -> None:
    url, names = _database_cases(tmp_path)[case]
    result, seconds = start(tmp_path, DATABASE_URL=url, SLACK_API_URL=standin.base_url, **mode)
    assert_refused(result, *names)
    assert seconds < 10


def test_missing_postgres_database_is_one_line(
    tmp_path: Path, mode: dict[str, str], standin: SlackStandin, pg_reason: str | None
) -> None:
    require_postgresql(pg_reason)
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/impact_never_created"
    result, seconds = start(tmp_path, DATABASE_URL=url, SLACK_API_URL=standin.base_url, **mode)
    assert_refused(result, "DATABASE_URL", "does not exist", "createdb impact_never_created")
    assert seconds < 10


def test_port_in_use_is_one_line(tmp_path: Path, standin: SlackStandin) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = {"SLACK_BOT_TOKEN": "xoxb-1234-5678-AbCdEfGh", **MODES["http"]}
        result, seconds = start(tmp_path, SLACK_API_URL=standin.base_url, PORT=port, **env)
    assert_refused(result, "PORT", port, "in use")
    assert seconds < 10


# ---- a good start ----------------------------------------------------------------------------


@pytest.fixture
def running_bot(tmp_path: Path, standin: SlackStandin) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = clean_env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-1234-5678-AbCdEfGh",
        SLACK_API_URL=standin.base_url,
        **MODES["http"],
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, f"http://127.0.0.1:{env['PORT']}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_http_mode_checks_its_token_once_at_start(
    running_bot: tuple[subprocess.Popen[str], str], standin: SlackStandin
) -> None:
    proc, url = running_bot
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                assert resp.status == 200
                break
        except OSError:
            assert time.monotonic() < deadline, "the bot did not come up"
            time.sleep(0.1)
    # Asked before the first request: no user waits for it, and a bad token would have stopped us.
    [call] = standin.attempts_to("auth.test")
    assert call.token == "xoxb-1234-5678-AbCdEfGh"


# ---- bot.startup itself ----------------------------------------------------------------------


def settings_for(standin: SlackStandin, **overrides: object) -> Settings:
    base = Settings(bot_token="xoxb-1234-5678-AbCdEfGh", signing_secret=SECRET, api_url=standin.base_url)
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_check_slack_tells_who_the_token_belongs_to(standin: SlackStandin) -> None:
    assert check_slack(settings_for(standin)) == SlackIdentity(
        team_id="T111", enterprise_id="", bot_user_id="UBOT"
    )
    standin.answer(
        "auth.test",
        {"ok": True, "team_id": "T222", "enterprise_id": "E333", "user_id": "UB2", "bot_id": "B2"},
    )
    assert check_slack(settings_for(standin)) == SlackIdentity("T222", "E333", "UB2")
    # An org-wide install's token: no team, the enterprise stands in for it.
    standin.answer(
        "auth.test",
        {
            "ok": True,
            "team_id": None,
            "enterprise_id": "E333",
            "user_id": "UB2",
            "is_enterprise_install": True,
        },
    )
    assert check_slack(settings_for(standin)) == SlackIdentity("E333", "E333", "UB2")


def test_check_slack_asks_nothing_in_oauth_mode(standin: SlackStandin) -> None:
    settings = settings_for(standin, bot_token=None, client_id="1.2", client_secret="shh")
    assert check_slack(settings) is None
    assert not standin.attempts


def test_check_slack_refuses_an_answer_that_is_not_slack(standin: SlackStandin) -> None:
    standin.answer("auth.test", {"ok": True})
    with pytest.raises(StartupError, match="SLACK_API_URL"):
        check_slack(settings_for(standin))


def test_check_slack_deadline_is_short(standin: SlackStandin) -> None:
    standin.delay("auth.test", 10)
    began = time.monotonic()
    with pytest.raises(StartupError) as err:
        check_slack(settings_for(standin), timeout=1)
    assert time.monotonic() - began < 3
    assert "no answer to auth.test within 1 s" in str(err.value)
    assert "\n" not in str(err.value)
