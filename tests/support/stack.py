"""The running stack as tests reach it: settings for a test database and Redis prefix, sign-in helpers and a
real uvicorn server on a loopback port. Fixtures that build these live in tests/conftest.py."""

from __future__ import annotations

import asyncio
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
    return load_settings(settings_env(database_url, redis_url, redis_prefix, data_dir, **env))


def settings_env(database_url: str, redis_url: str, redis_prefix: str, data_dir: Path, **env: str) -> dict[str, str]:
    """The environment of the test settings: what make_settings loads, and what API processes started as
    subprocesses are given (tests/integration/platform/test_api_processes.py)."""
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
        # The tutor's retrieval gives up after 0.15 s in production (the reply goes text-only); with every
        # core busy (the recovery modules' CPU hogs) it can take longer, and the grounding tests check what
        # a reply links, not how fast it was found.
        "LYCEUM_TUTOR_RETRIEVAL_TIMEOUT_SECONDS": "2",
        # The test LTI platform listens on 127.0.0.1 (tests/support/lti): allow the tool to call it.
        "LYCEUM_LTI_ALLOW_PRIVATE": "1",
        # The test OIDC provider is http on 127.0.0.1 (tests/support/oidc_provider.py).
        "LYCEUM_SSO_ALLOW_HTTP_ISSUERS": "1",
        "LYCEUM_SSO_ALLOW_PRIVATE_ISSUERS": "1",
        # The test webhook receiver listens on 127.0.0.1 (tests/support/webhooks.py); strict-mode tests turn it off.
        "LYCEUM_WEBHOOKS_ALLOW_PRIVATE": "1",
        # A session holds many apps and workers at once (the client's app, live servers, in-process workers),
        # each with its own pool, on a PostgreSQL that allows 100 connections shared by both test workers: with
        # production's 10 (+10 overflow) per pool, a loaded run ran out of connections. 4 (+4) is enough for the
        # concurrency any test drives through one app.
        "LYCEUM_DB_POOL_SIZE": "4",
        # One database per test worker, shared by every module on it: the demo learner's tutor turns across the
        # whole session add up against one daily budget, and with production's 50,000 tokens the later tutor
        # tests on a worker were refused ('blocked', CI at stop 28). Budget tests set their own limits (admin
        # PUT, or TokenBudget with explicit BudgetLimits); everything else must never meet a shared one.
        "LYCEUM_BUDGET_USER_DAILY_TOKENS": "100000000",
        "LYCEUM_BUDGET_COURSE_MONTHLY_TOKENS": "1000000000",
        "LYCEUM_BUDGET_ORG_MONTHLY_TOKENS": "1000000000",
        # The AI usage rollup is refreshed by the tests that need it (tests/integration/insights, the dashboard's
        # browser test); every in-process worker refreshing every minute only held connections.
        "LYCEUM_AI_USAGE_ROLLUP_CRON": "0 3 1 1 *",
    }
    base.update(env)
    return base


# Sign-in fails closed (503 with Retry-After) while the rate limiter's fail-fast Redis calls time out, which
# a heavily loaded machine can cause; clients honour Retry-After, and so do these helpers, which only need a
# token. Tests of sign-in itself call the endpoint directly. The deadline only bounds a broken run.
SIGN_IN_DEADLINE_SECONDS = 60.0


def _retry_wait(response: httpx.Response) -> float | None:
    """Seconds to wait before signing in again, or None when the answer is final."""
    if response.status_code != 503:
        return None
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), 5.0)
    except ValueError:
        return 1.0


async def login(
    client: AsyncTestClient[Litestar], email: str, org: str, password: str = DEMO_PASSWORD
) -> dict[str, Any]:
    deadline = time.monotonic() + SIGN_IN_DEADLINE_SECONDS
    while True:
        response = await client.post("/v1/auth/login", json={"email": email, "password": password, "org": org})
        wait = _retry_wait(response)
        if wait is None or time.monotonic() + wait > deadline:
            break
        await asyncio.sleep(wait)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sign_in(base_url: str, email: str, org: str = "demo", password: str = DEMO_PASSWORD) -> dict[str, Any]:
    """``login`` against a live server (``base_url``), for tests that drive it over HTTP."""
    deadline = time.monotonic() + SIGN_IN_DEADLINE_SECONDS
    while True:
        response = httpx.post(f"{base_url}/v1/auth/login", json={"email": email, "password": password, "org": org})
        wait = _retry_wait(response)
        if wait is None or time.monotonic() + wait > deadline:
            break
        time.sleep(wait)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer_for(base_url: str, email: str, org: str = "demo", password: str = DEMO_PASSWORD) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign_in(base_url, email, org, password)['access_token']}"}


async def auth_headers(client: AsyncTestClient[Litestar], email: str, org: str) -> dict[str, str]:
    tokens = await login(client, email, org)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def run_live_server(app: Litestar, port: int | None = None) -> tuple[str, uvicorn.Server, threading.Thread]:
    """A real uvicorn server on a free loopback port (or ``port``, when the app's public URL names it
    beforehand), in a thread (for WebSocket, SSE and fuzz tests)."""
    port = port or free_port()
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
