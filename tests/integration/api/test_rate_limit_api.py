"""The limiter applied to the API: 429 problem+json with Retry-After, RateLimit headers, fail modes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.config import Settings
from app.lib.ratelimit import TokenBucketLimiter
from app.lib.redis import create_redis
from app.server.components import components_of
from tests.support.stack import make_settings

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def strict_client(settings: Settings, seeded: Any, tmp_path: Path) -> AsyncIterator[Client]:
    """An app with tight limits and its own key prefix (buckets start full)."""
    strict = make_settings(
        settings.database_url,
        settings.redis_url,
        f"{settings.redis_key_prefix}{tmp_path.name}:",
        tmp_path,
        LYCEUM_RATE_LIMIT_LOGIN_USER="3/60s",
        LYCEUM_RATE_LIMIT_API_USER="5/60s",
    )
    async with AsyncTestClient(app=create_app(strict)) as client:
        yield client


async def _token(client: Client, email: str = "learner@demo.test") -> dict[str, str]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": "lyceum-demo", "org": "demo"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_login_is_limited_per_account(strict_client: Client) -> None:
    body = {"email": "learner@demo.test", "password": "wrong-password", "org": "demo"}
    statuses = [(await strict_client.post("/v1/auth/login", json=body)).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    refused = await strict_client.post("/v1/auth/login", json=body)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) >= 1
    assert '"account"' in refused.headers["ratelimit"]
    # Another account of the same org is not starved by the noisy one.
    assert (
        await strict_client.post("/v1/auth/login", json={**body, "email": "admin@demo.test", "password": "lyceum-demo"})
    ).status_code == 200


async def test_api_routes_carry_headers_and_refuse_with_429(strict_client: Client) -> None:
    learner = await _token(strict_client)
    first = await strict_client.get("/v1/courses", headers=learner)
    assert first.status_code == 200
    assert '"user";q=5' in first.headers["ratelimit-policy"]
    assert first.headers["ratelimit"].startswith('"user";r=4')
    for _ in range(4):
        assert (await strict_client.get("/v1/courses", headers=learner)).status_code == 200
    refused = await strict_client.get("/v1/courses", headers=learner)
    assert refused.status_code == 429
    assert refused.json()["limit"] == "user"
    assert int(refused.headers["retry-after"]) >= 1
    # Fairness inside the org: another user still gets through.
    admin = await _token(strict_client, "admin@demo.test")
    assert (await strict_client.get("/v1/courses", headers=admin)).status_code == 200


async def test_redis_down_fails_open_for_reads_and_closed_for_login(strict_client: Client) -> None:
    learner = await _token(strict_client)
    components = components_of(strict_client.app)
    working = components.limiter
    dead = create_redis("redis://127.0.0.1:1/0", role="limiter")  # nothing listens on port 1
    components.limiter = TokenBucketLimiter(dead, components.settings.redis_key_prefix)
    try:
        read = await strict_client.get("/v1/courses", headers=learner)
        assert read.status_code == 200
        assert "ratelimit" not in read.headers
        login = await strict_client.post(
            "/v1/auth/login", json={"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"}
        )
        assert login.status_code == 503
        assert login.headers["content-type"].startswith("application/problem+json")
        metrics = (await strict_client.get("/metrics")).text
        assert 'lyceum_rate_limit_backend_errors_total{mode="open",policy="api"}' in metrics
        assert 'lyceum_rate_limit_backend_errors_total{mode="closed",policy="login"}' in metrics
    finally:
        components.limiter = working
        await dead.aclose()
