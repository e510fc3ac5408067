"""Test infrastructure: real PostgreSQL and Redis, isolated per run.

TEST_DATABASE_URL / TEST_REDIS_URL point at running servers (CI); without them the embedded servers
from app.server.embedded start once for the session. Each run (and each xdist worker) gets its own
database and its own Redis key prefix, so reruns and parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.asgi import create_app
from app.config import Settings
from app.db.bootstrap import migrate
from app.lib.redis import create_redis
from app.server.embedded import EmbeddedPostgres, EmbeddedRedis
from tests.support import client as test_client_transport
from tests.support.cpu_load import every_core_busy
from tests.support.databases import scratch_database
from tests.support.stack import RUN_ID, make_settings, run_live_server

# Every fixture shared by more than one area lives here or in these modules (tests/support/); a directory
# conftest holds only what its own directory needs (the browser in e2e, the sandbox skip in safety/sandbox).
# Requests served while the test's event loop keeps running (tests/support/client.py says why).
test_client_transport.install()

pytest_plugins = [
    "tests.support.fake_anthropic.fixtures",
    "tests.support.grading",
    "tests.support.feed",
    "tests.support.lti.services_fixtures",  # LTI services (AGS, NRPS): tests/integration/lti/
]


@pytest.fixture(scope="session")
def tmp_data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="lyceum-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(tmp_data_dir: Path) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", "")
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_data_dir, persist=False)
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def server_database_url(tmp_data_dir: Path) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url:
        yield url
        return
    server = EmbeddedPostgres(tmp_data_dir)
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def database_url(server_database_url: str, worker_id: str) -> Iterator[str]:
    """A fresh database for this run (and xdist worker), dropped afterwards."""
    name = f"lyceum_test_{RUN_ID}_{worker_id}".lower()
    with scratch_database(server_database_url, name) as url:
        yield url


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(scope="session")
def redis_prefix(worker_id: str, redis_url: str) -> Iterator[str]:
    """This run's (and xdist worker's) key prefix; its keys are deleted at the end of the session."""
    prefix = f"lyceum-test:{RUN_ID}:{worker_id}:"
    yield prefix

    async def clean() -> None:
        client = create_redis(redis_url)
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
        await client.aclose()

    asyncio.run(clean())


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path) -> Settings:
    return make_settings(database_url, redis_url, redis_prefix, tmp_data_dir)


@pytest.fixture(scope="session")
async def seeded(settings: Settings) -> Any:
    from app.seed import seed

    await migrate(settings)
    return await seed(settings)


@pytest.fixture(scope="session")
def app(settings: Settings, seeded: Any) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    client = create_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def live_url(settings: Settings, seeded: Any) -> Iterator[str]:
    url, server, thread = run_live_server(create_app(settings))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


# Burns one core until its parent (this pytest process) is gone, so a crashed run leaves nothing spinning.
@pytest.fixture(scope="module")
def cpu_hog() -> Iterator[int]:
    """Every core busy for the whole module (one machine-wide pool of CPU-bound processes, shared by the
    modules that overlap on other xdist workers: tests/support/cpu_load.py).

    Recovery after a killed worker or a restarted ``lyceum up`` used to fail on a loaded machine and pass
    on an idle one. Modules that prove recovery use this (``pytest.mark.usefixtures("cpu_hog")``), so
    every run, CI included, exercises the loaded case rather than the lucky one."""
    with every_core_busy() as hogs:
        yield hogs


# Unit tests run without PostgreSQL or Redis (`uv run pytest tests/unit` starts no server); a unit test that
# asks for one of these belongs in tests/integration/<area>.
_SERVER_FIXTURES = frozenset(
    {"server_database_url", "database_url", "redis_url", "seeded", "app", "client", "live_url"}
)


# The longest modules, longest first, run before everything else. `pytest -n 2 --dist loadfile` hands whole
# files to the workers in collection order (pyproject's `--no-loadscope-reorder` keeps that order instead of
# xdist's default "most tests first", which put these few-test modules last, serialized on one worker at the
# tail). The cpu_hog modules come first so they overlap each other (one shared pool of hogs) rather than
# slowing everything else down for the whole run. Only the order changes; every test still runs.
SLOW_FIRST = (
    "integration/platform/test_restarts.py",  # cpu_hog
    "integration/credentials/test_killed_worker.py",  # cpu_hog
    "integration/lti/test_killed_worker.py",  # four worker processes; starts among the cpu_hog modules
    "integration/grading/test_killed_worker.py",  # cpu_hog
    "chaos/test_redis_killed.py",  # a Redis of its own, killed and restarted
    "chaos/test_postgres_connections_killed.py",  # a database of its own, created, migrated and seeded
    "chaos/test_model_overload.py",
    "integration/loadtests/test_locust_smoke.py",  # starts a whole `lyceum up`, then runs locust
    "integration/api/test_fuzz.py",
    "integration/platform/test_api_processes.py",  # two API processes started once for the module
    "integration/platform/test_cli.py",
    "unit/search/test_embedding.py",
    "integration/search/test_gold_recall.py",
    "integration/grading/test_query_counts.py",
    "integration/search/test_chroma_server.py",
)


def _start_rank(item: pytest.Item, tests: Path) -> int:
    relative = item.path.relative_to(tests).as_posix() if item.path.is_relative_to(tests) else ""
    return SLOW_FIRST.index(relative) if relative in SLOW_FIRST else len(SLOW_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    items.sort(key=lambda item: _start_rank(item, tests))  # stable: the rest keep their order
    unit = Path(__file__).parent / "unit"
    misplaced = [
        item.nodeid
        for item in items
        if item.path.is_relative_to(unit) and _SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
    ]
    if misplaced:
        raise pytest.UsageError(f"unit tests that need a server (move them to tests/integration/): {misplaced}")
