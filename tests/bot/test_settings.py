"""Settings: defaults, validation, and `.env` loading where the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def load(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings({**BASE, **env}, dotenv_path=tmp_path / "none.env")


def test_defaults(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert s.database_url == "sqlite:///impact.db"
    assert (s.host, s.port, s.timezone, s.language) == ("0.0.0.0", 3000, "UTC", "en")
    assert s.api_url == "https://slack.com/api/"
    assert not s.socket_mode


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
