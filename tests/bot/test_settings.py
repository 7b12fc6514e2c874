"""Settings: defaults, validation, and `.env` loading where the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SECRET_VARIABLES, SettingsError, is_placeholder, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def load(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings({**BASE, **env}, dotenv_path=tmp_path / "none.env")


def test_defaults(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert s.database_url == "sqlite:///impact.db"
    assert (s.host, s.port, s.timezone, s.language) == ("0.0.0.0", 3000, "UTC", "en")
    assert s.api_url == "https://slack.com/api/"
    assert not s.socket_mode
    assert (s.posts_per_minute, s.post_burst) == (600, 10)
    assert (load(tmp_path, IMPACT_POSTS_PER_MINUTE="300", IMPACT_POST_BURST="5").posts_per_minute) == 300


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SLACK_BOT_TOKEN": "bad"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"IMPACT_TIMEZONE": "Mars/Olympus"}, "IMPACT_TIMEZONE"),
        ({"IMPACT_LANGUAGE": "fr"}, "IMPACT_LANGUAGE"),
        ({"IMPACT_MANAGERS": "U123,bob"}, "IMPACT_MANAGERS"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        ({"SLACK_CLIENT_ID": "1.2"}, "SLACK_CLIENT_SECRET"),
        ({"IMPACT_POSTS_PER_MINUTE": "0"}, "IMPACT_POSTS_PER_MINUTE"),
        ({"IMPACT_POSTS_PER_MINUTE": "fast"}, "IMPACT_POSTS_PER_MINUTE"),
        ({"IMPACT_POST_BURST": "-1"}, "IMPACT_POST_BURST"),
    ],
)
def test_malformed_setting_names_the_variable(tmp_path: Path, env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as err:
        load(tmp_path, **env)
    assert err.value.variable == variable
    assert str(err.value).startswith(variable + ":")
    assert "\n" not in str(err.value)


def test_socket_mode_needs_no_signing_secret(tmp_path: Path) -> None:
    s = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, tmp_path / "x")
    assert s.socket_mode


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "SLACK_BOT_TOKEN=xoxb-file\nSLACK_SIGNING_SECRET=s\nPORT=4000\nIMPACT_MANAGERS=U0AA, U0BB\n"
    )
    s = load_settings({"PORT": "5000"}, dotenv_path=env_file)
    assert s.bot_token == "xoxb-file" and s.port == 5000
    assert s.managers == frozenset({"U0AA", "U0BB"})
    assert s.api_url.endswith("/")


# ---- credentials: placeholders never pass for secrets -------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
REAL = {
    "SLACK_BOT_TOKEN": "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
}
REAL_APP_TOKEN = "xapp-1-A0123ABCDEF-1234567890123-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def env_example_credentials() -> dict[str, str]:
    """Every credential `.env.example` gives a value, on live or commented-out lines."""
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, eq, value = line.lstrip("# ").partition("=")
        if eq and name in SECRET_VARIABLES and value.strip():
            values[name] = value.strip()
    return values


def test_env_example_offers_the_three_placeholders() -> None:
    # Guards the next test against passing vacuously.
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"} <= set(env_example_credentials())


@pytest.mark.parametrize("socket_mode", [False, True])
def test_every_env_example_credential_is_refused(tmp_path: Path, socket_mode: bool) -> None:
    """Whatever placeholder `.env.example` offers now or later, starting with it is refused."""
    for name, value in env_example_credentials().items():
        env = {**REAL, "SLACK_APP_TOKEN": REAL_APP_TOKEN if socket_mode else "", name: value}
        if name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
            env.update(SLACK_CLIENT_ID="1234.5678", SLACK_CLIENT_SECRET="0a1b2c3d4e5f", **{name: value})
        with pytest.raises(SettingsError) as err:
            load_settings(env, dotenv_path=tmp_path / "none.env")
        assert err.value.variable == name, (name, value)
        assert value in str(err.value) and "placeholder" in str(err.value)


def test_env_example_itself_is_refused() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({}, dotenv_path=ROOT / ".env.example")
    assert err.value.variable == "SLACK_BOT_TOKEN"
    with pytest.raises(SettingsError) as err:
        load_settings({"SLACK_BOT_TOKEN": REAL["SLACK_BOT_TOKEN"]}, dotenv_path=ROOT / ".env.example")
    assert err.value.variable == "SLACK_SIGNING_SECRET"


def test_real_looking_credentials_are_accepted(tmp_path: Path) -> None:
    http = load_settings(REAL, dotenv_path=tmp_path / "none.env")
    assert http.bot_token == REAL["SLACK_BOT_TOKEN"]
    assert http.signing_secret == REAL["SLACK_SIGNING_SECRET"]
    socket = load_settings({**REAL, "SLACK_APP_TOKEN": REAL_APP_TOKEN}, dotenv_path=tmp_path / "none.env")
    assert socket.socket_mode and socket.app_token == REAL_APP_TOKEN


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-..."),
        ("SLACK_BOT_TOKEN", "xoxb-"),
        ("SLACK_BOT_TOKEN", "xoxb-xxxxxxxxxxxx"),
        ("SLACK_BOT_TOKEN", "xoxb-XXXX-XXXX-XXXX"),
        ("SLACK_BOT_TOKEN", "xoxb-<your token>"),
        ("SLACK_SIGNING_SECRET", "<signing secret>"),
        ("SLACK_SIGNING_SECRET", "changeme"),
        ("SLACK_SIGNING_SECRET", "REPLACE_ME"),
        ("SLACK_SIGNING_SECRET", "your_signing_secret"),
        ("SLACK_SIGNING_SECRET", "Your Signing Secret"),
        ("SLACK_SIGNING_SECRET", "********"),
        ("SLACK_APP_TOKEN", "xapp-…"),
        ("SLACK_APP_TOKEN", "xapp-"),
        ("SLACK_APP_TOKEN", "xapp-example-token"),
    ],
)
def test_placeholder_shapes_are_refused(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as err:
        load(tmp_path, **{"SLACK_APP_TOKEN": REAL_APP_TOKEN, variable: value})
    assert err.value.variable == variable


def test_database_commands_ignore_placeholder_credentials(tmp_path: Path) -> None:
    """`migrate`, `import` and `export` work from a fresh copy of `.env.example`; nothing reaches Slack."""
    s = load_settings({}, dotenv_path=ROOT / ".env.example", need_slack=False)
    assert (s.bot_token, s.signing_secret, s.app_token) == (None, None, None)
    assert s.database_url == "sqlite:///impact.db"


def test_is_placeholder_leaves_real_credentials_alone() -> None:
    for value in (*REAL.values(), REAL_APP_TOKEN, "xoxb-test", "test-signing-secret", "1234.5678"):
        assert not is_placeholder(value), value
