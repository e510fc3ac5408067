"""Redis down: reads keep working, login and writes refuse clearly (503 with Retry-After), /ready says so.
Tokens are still checked (against PostgreSQL); tests/integration/auth/test_account_security.py covers a hung Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.config import Settings
from tests.support.stack import login, make_settings


async def test_redis_down_policy(client: AsyncTestClient[Any], settings: Settings, tmp_path: Path) -> None:
    tokens = await login(client, "learner@demo.test", "demo")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    course_id = (await client.get("/v1/courses", headers=headers)).json()["items"][0]["id"]

    # Same database, but Redis is a port where nothing listens.
    broken = make_settings(settings.database_url, "redis://127.0.0.1:1/0", settings.redis_key_prefix, tmp_path)
    async with AsyncTestClient(app=create_app(broken)) as degraded:
        assert (await degraded.get("/health")).status_code == 200
        ready = await degraded.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgres"] == "ok"
        assert ready.json()["checks"]["redis"].startswith("error")

        detail = await degraded.get(f"/v1/courses/{course_id}", headers=headers)
        assert detail.status_code == 200, detail.text  # token check from PostgreSQL; limiter and cache open

        refused = await degraded.post(
            "/v1/auth/login", json={"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"}
        )
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")

        assert refused.headers["retry-after"] == "5"

        write = await degraded.post(f"/v1/courses/{course_id}/enrollments", headers=headers)
        assert write.status_code == 503
        assert write.headers["retry-after"] == "5"
        metrics = (await degraded.get("/metrics")).text
        assert 'lyceum_token_denylist_errors_total{mode="database"}' in metrics
