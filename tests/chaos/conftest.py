"""Fixtures of the chaos drills (docs/runbooks/chaos-drills.md): each module gets a Redis of its own to kill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.chaos import ChaosRedis


@pytest.fixture(scope="module")
def chaos_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosRedis]:
    server = ChaosRedis(Path(tmp_path_factory.mktemp("chaos-redis")))
    server.start()
    yield server
    server.stop()
