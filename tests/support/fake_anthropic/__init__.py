"""A local, scriptable stand-in for the Anthropic Messages API (real wire format, real SDK as client).

Fixtures: add ``pytest_plugins = ["tests.support.fake_anthropic.fixtures"]`` to a test module (or the root conftest).
"""

from __future__ import annotations

from typing import Any

from app.config import Secret, Settings
from tests.support.fake_anthropic.server import DEFAULT_REPLY, FakeAnthropic, RecordedRequest, Script

FAKE_API_KEY = "sk-ant-fake-key-for-tests"


def settings_for(fake: FakeAnthropic, **overrides: Any) -> Settings:
    """Settings whose tutor talks to ``fake`` (the env equivalent: ANTHROPIC_BASE_URL + ANTHROPIC_API_KEY)."""
    values: dict[str, Any] = {"anthropic_api_key": Secret(FAKE_API_KEY), "anthropic_base_url": fake.base_url}
    values.update(overrides)
    return Settings(**values)


__all__ = ["DEFAULT_REPLY", "FAKE_API_KEY", "FakeAnthropic", "RecordedRequest", "Script", "settings_for"]
