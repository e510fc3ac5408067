"""One settings object: validated at start, errors name the variable, secrets never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, RateLimit, load_settings


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LYCEUM_PORT": "eighty"}, "LYCEUM_PORT"),
        ({"LYCEUM_PORT": "70000"}, "LYCEUM_PORT"),
        ({"LYCEUM_API_WORKERS": "6400"}, "LYCEUM_API_WORKERS"),
        ({"LYCEUM_API_WORKERS": "-2"}, "LYCEUM_API_WORKERS"),
        ({"LYCEUM_API_WORKERS": "two"}, "LYCEUM_API_WORKERS"),
        ({"LYCEUM_ENVIRONMENT": "staging"}, "LYCEUM_ENVIRONMENT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"LYCEUM_RATE_LIMIT_LOGIN_USER": "lots"}, "LYCEUM_RATE_LIMIT_LOGIN_USER"),
        ({"LYCEUM_LOG_JSON": "maybe"}, "LYCEUM_LOG_JSON"),
        ({"LYCEUM_SECRET_KEY": "short"}, "LYCEUM_SECRET_KEY"),
        ({"LYCEUM_LOG_LEVEL": "LOUD"}, "LYCEUM_LOG_LEVEL"),
        ({"LYCEUM_GRADING_STALE_SECONDS": "5", "LYCEUM_GRADING_HEARTBEAT_SECONDS": "15"}, "LYCEUM_GRADING_STALE"),
        ({"LYCEUM_SECURITY_NOTIFY_HOOK": "send_mail"}, "LYCEUM_SECURITY_NOTIFY_HOOK"),
        ({"LYCEUM_AUTH_CACHE_SECONDS": "0"}, "LYCEUM_AUTH_CACHE_SECONDS"),
        ({"LYCEUM_WEBHOOKS_RETENTION_DAYS": "0"}, "LYCEUM_WEBHOOKS_RETENTION_DAYS"),
        (
            {"LYCEUM_ENVIRONMENT": "production", "LYCEUM_REFRESH_COOKIE_SECURE": "false"},
            "LYCEUM_REFRESH_COOKIE_SECURE",
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({"LYCEUM_DATA_DIR": str(tmp_path), **env})


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LYCEUM_SECRET_KEY"):
        load_settings({"LYCEUM_ENVIRONMENT": "production", "LYCEUM_DATA_DIR": str(tmp_path)})


def test_development_generates_and_keeps_a_secret_key(tmp_path: Path) -> None:
    first = load_settings({"LYCEUM_DATA_DIR": str(tmp_path)})
    second = load_settings({"LYCEUM_DATA_DIR": str(tmp_path)})
    assert len(first.secret_key.value) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secrets_never_appear_in_reprs_or_logs(tmp_path: Path) -> None:
    settings = load_settings(
        {"LYCEUM_DATA_DIR": str(tmp_path), "ANTHROPIC_API_KEY": "sk-ant-very-secret", "LYCEUM_SECRET_KEY": "x" * 40}
    )
    dumped = repr(settings) + str(settings.redacted())
    assert "sk-ant-very-secret" not in dumped
    assert "x" * 40 not in dumped
    assert settings.anthropic_api_key.value == "sk-ant-very-secret"


def test_rate_limit_format() -> None:
    limit = RateLimit.parse("X", "20/60s")
    assert limit.burst == 20
    assert limit.per_second == pytest.approx(1 / 3)
    assert RateLimit.parse("X", "5/1m").per_second == pytest.approx(5 / 60)
    assert str(limit) == "20/60s"


@pytest.mark.parametrize("raw", ["20/", "/60s", "20/nan", "20/inf", "abc", "20/60x", "-1/60s", "0/60s"])
def test_malformed_rates_are_config_errors(raw: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LYCEUM_RATE_LIMIT_API_USER"):
        load_settings({"LYCEUM_DATA_DIR": str(tmp_path), "LYCEUM_RATE_LIMIT_API_USER": raw})


def test_non_finite_numbers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LYCEUM_TUTOR_READ_TIMEOUT_SECONDS"):
        load_settings({"LYCEUM_DATA_DIR": str(tmp_path), "LYCEUM_TUTOR_READ_TIMEOUT_SECONDS": "nan"})


def test_production_refuses_the_default_app_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LYCEUM_DB_APP_PASSWORD"):
        load_settings(
            {"LYCEUM_ENVIRONMENT": "production", "LYCEUM_SECRET_KEY": "k" * 40, "LYCEUM_DATA_DIR": str(tmp_path)}
        )
