"""Schemathesis fuzzes every operation of /schema/openapi.json against a real server: no 5xx, ever."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from litestar import Litestar

from app.asgi import create_app
from app.config import Settings

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_url(settings: Settings, seeded: Any) -> Iterator[str]:
    app: Litestar = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
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
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def admin_headers(live_url: str) -> dict[str, str]:
    body = {"email": "admin@demo.test", "password": "lyceum-demo", "org": "demo"}
    token = httpx.post(f"{live_url}/v1/auth/login", json=body, timeout=10).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _operations(live_url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{live_url}/schema/openapi.json")
    # Logout would revoke the token the rest of the run uses; its behaviour is covered in test_auth.py.
    return [op for op in (r.ok() for r in schema.get_all_operations()) if op.path != "/v1/auth/logout"]


def test_no_server_errors(live_url: str, admin_headers: dict[str, str]) -> None:
    """Every operation, with generated valid and invalid inputs, as an admin (the widest access)."""
    failures: list[str] = []
    statuses: list[int] = []
    operations = _operations(live_url)
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def run(case: Any) -> None:
            response = case.call(base_url=live_url, headers={**admin_headers, **(case.headers or {})})
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        run()
    assert not failures, "\n".join(failures[:20])
    assert len(statuses) >= 10 * len(operations)  # the run really exercised every operation
    assert any(400 <= status < 500 for status in statuses)
