"""The running stack as tests reach it: settings for a test database and Redis prefix, sign-in helpers and a
real uvicorn server on a loopback port. Fixtures that build these live in tests/conftest.py."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings, load_settings
from app.lib.sockets import server_max_frame_bytes
from app.server.embedded import free_port

RUN_ID = uuid.uuid4().hex[:10]


DEMO_PASSWORD = "lyceum-demo"


ROOT = Path(__file__).resolve().parents[2]


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
