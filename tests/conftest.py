"""Test infrastructure: real PostgreSQL and Redis, isolated per run.

TEST_DATABASE_URL / TEST_REDIS_URL point at running servers (CI); without them the embedded servers
from app.server.embedded start once for the session. Each run (and each xdist worker) gets its own
database and its own Redis key prefix, so reruns and parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text

from app.asgi import create_app
from app.config import Settings, load_settings
from app.db.bootstrap import migrate
from app.db.engine import create_engine, owner_url
from app.lib.redis import create_redis
from app.lib.sockets import server_max_frame_bytes
from app.server.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

pytest_plugins = ["tests.fake_anthropic.fixtures"]

RUN_ID = uuid.uuid4().hex[:10]
DEMO_PASSWORD = "lyceum-demo"
ROOT = Path(__file__).resolve().parents[1]


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
    admin = owner_url(server_database_url)

    async def run(statement: str) -> None:
        engine = create_engine(admin, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        await engine.dispose()

    asyncio.run(run(f'create database "{name}"'))
    yield admin.set(database=name).render_as_string(hide_password=False)
    asyncio.run(run(f'drop database if exists "{name}" with (force)'))


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(scope="session")
def redis_prefix(worker_id: str) -> str:
    return f"lyceum-test:{RUN_ID}:{worker_id}:"


def make_settings(database_url: str, redis_url: str, redis_prefix: str, data_dir: Path, **env: str) -> Settings:
    base = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_ENVIRONMENT": "test",
        "LYCEUM_DATA_DIR": str(data_dir),
        "LYCEUM_REDIS_KEY_PREFIX": redis_prefix,
        "LYCEUM_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "LYCEUM_CONTENT_DIR": os.environ.get("LYCEUM_TEST_CONTENT_DIR", str(ROOT / "content")),
        "LYCEUM_LOG_LEVEL": "WARNING",
        # Generous limits so the suite's many logins are not throttled; limiter tests set their own.
        "LYCEUM_RATE_LIMIT_LOGIN_USER": "10000/60s",
        "LYCEUM_RATE_LIMIT_LOGIN_ORG": "10000/60s",
        "LYCEUM_RATE_LIMIT_LOGIN_GLOBAL": "10000/60s",
        "LYCEUM_RATE_LIMIT_API_USER": "100000/60s",
        "LYCEUM_RATE_LIMIT_API_ORG": "100000/60s",
        "LYCEUM_RATE_LIMIT_API_GLOBAL": "100000/60s",
    }
    base.update(env)
    return load_settings(base)


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


@pytest.fixture(scope="session", autouse=True)
def _clean_redis_keys(redis_url: str, redis_prefix: str) -> Iterator[None]:
    yield

    async def clean() -> None:
        client = create_redis(redis_url)
        async for key in client.scan_iter(match=f"{redis_prefix}*", count=1000):
            await client.delete(key)
        await client.aclose()

    asyncio.run(clean())


async def login(
    client: AsyncTestClient[Litestar], email: str, org: str, password: str = DEMO_PASSWORD
) -> dict[str, Any]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password, "org": org})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def auth_headers(client: AsyncTestClient[Litestar], email: str, org: str) -> dict[str, str]:
    tokens = await login(client, email, org)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def run_live_server(app: Litestar) -> tuple[str, uvicorn.Server, threading.Thread]:
    """A real uvicorn server on a free loopback port, in a thread (for WebSocket, SSE and fuzz tests)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
            # As `lyceum up` runs it (for the default message limit; the tests do not change it).
            ws_max_size=server_max_frame_bytes(Settings()),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return url, server, thread


@pytest.fixture(scope="session")
def live_url(settings: Settings, seeded: Any) -> Iterator[str]:
    url, server, thread = run_live_server(create_app(settings))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


# Burns one core until its parent (this pytest process) is gone, so a crashed run leaves nothing spinning.
_CPU_HOG = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    sum(range(100_000))\n"


@pytest.fixture(scope="module")
def cpu_hog() -> Iterator[int]:
    """Every core busy for the whole module: one CPU-bound process per core, at normal priority.

    Recovery after a killed worker or a restarted ``lyceum up`` used to fail on a loaded machine and pass
    on an idle one. Modules that prove recovery use this (``pytest.mark.usefixtures("cpu_hog")``), so
    every run, CI included, exercises the loaded case rather than the lucky one."""
    hogs = [subprocess.Popen([sys.executable, "-c", _CPU_HOG]) for _ in range(os.cpu_count() or 2)]
    try:
        yield len(hogs)
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()
