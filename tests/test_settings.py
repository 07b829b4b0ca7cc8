"""Configuration: read once from an environment mapping; bad values name their variable."""

from __future__ import annotations

import pytest

from frontdesk.settings import ConfigError, Settings


def test_defaults_and_derived_urls():
    s = Settings.from_env({"PUBLIC_URL": "https://voice.example.com/"})
    assert s.voice_url == "https://voice.example.com/voice"
    assert s.public_ws_base == "wss://voice.example.com"
    assert s.database_url is None and s.max_calls == 10


def test_only_the_given_mapping_is_read(monkeypatch):
    monkeypatch.setenv("MAX_CALLS", "3")
    assert Settings.from_env({}).max_calls == 10
    assert Settings.from_env({"MAX_CALLS": "4"}).max_calls == 4


@pytest.mark.parametrize(("env", "named"), [
    ({"MAX_CALLS": "many"}, "MAX_CALLS"),
    ({"PORT": "70000"}, "PORT"),
    ({"PUBLIC_URL": "voice.example.com"}, "PUBLIC_URL"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"METER_TICK_SECONDS": "60"}, "METER_TICK_SECONDS"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
])
def test_bad_values_stop_with_the_variable_named(env, named):
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


def test_secrets_stay_out_of_repr():
    s = Settings.from_env({"TWILIO_AUTH_TOKEN": "tok-123", "OPENAI_API_KEY": "sk-456"})
    assert "tok-123" not in repr(s) and "sk-456" not in repr(s)
    assert s.secret("twilio_auth_token") == "tok-123"


def test_cli_refuses_to_start_on_bad_configuration(monkeypatch, capsys):
    from frontdesk import cli

    monkeypatch.setenv("MAX_CALLS", "many")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["migrate"])
    assert exit_.value.code == 2
    assert "MAX_CALLS" in capsys.readouterr().err
