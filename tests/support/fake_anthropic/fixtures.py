"""Pytest fixtures for the fake Anthropic API.

Use them from a test module with ``pytest_plugins = ["tests.support.fake_anthropic.fixtures"]`` (or add that
line to the root ``tests/conftest.py`` to make them available everywhere).

- ``fake_anthropic_server``: one server for the whole session.
- ``fake_anthropic``: the same server, reset to the default script with no recorded requests.
- :func:`tests.support.fake_anthropic.settings_for` builds Settings pointing the tutor at the fake.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_anthropic.server import FakeAnthropic


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_anthropic(fake_anthropic_server: FakeAnthropic) -> FakeAnthropic:
    fake_anthropic_server.reset()
    return fake_anthropic_server
