"""API conventions: problem+json with field paths, body limits, request ids, idempotency keys, deprecation."""

from __future__ import annotations

import tomllib
import uuid
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]
DECLARED_VERSION = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())["project"][
    "version"
]


def is_problem(response) -> bool:  # type: ignore[no-untyped-def]
    return response.headers.get("content-type", "").startswith("application/problem+json")


async def test_health_and_ready(client: Client) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    # The version is defined once, in pyproject.toml; /health and /v1/config (the web app's footer) report it.
    declared = DECLARED_VERSION
    assert health.json() == {"status": "ok", "version": declared}
    assert (await client.get("/v1/config")).json()["version"] == declared
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_request_id_on_every_response(client: Client) -> None:
    for path in ("/health", "/v1/me", "/no/such/path"):
        response = await client.get(path)
        assert len(response.headers["x-request-id"]) >= 8
    echoed = await client.get("/health", headers={"X-Request-ID": "abcdef1234567890"})
    assert echoed.headers["x-request-id"] == "abcdef1234567890"


async def test_malformed_json_is_400_problem(client: Client) -> None:
    response = await client.post("/v1/auth/login", content=b'{"email": ', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert is_problem(response)


async def test_validation_errors_name_the_field(client: Client) -> None:
    cases = [
        ({"email": "learner@demo.test", "password": 5, "org": "demo"}, "#/password"),
        ({"email": "learner@demo.test", "org": "demo"}, "password"),
        ({"email": "learner@demo.test", "password": "x", "org": "demo", "extra": 1}, "extra"),
        ({"email": "not-an-email", "password": "x", "org": "demo"}, "#/email"),
    ]
    for body, fragment in cases:
        response = await client.post("/v1/auth/login", json=body)
        assert response.status_code in (400, 422), response.text
        assert is_problem(response)
        problem = response.json()
        assert problem["status"] == response.status_code
        assert fragment in str(problem.get("errors", "")) + problem["detail"], problem


async def test_oversized_body_is_413(client: Client) -> None:
    response = await client.post(
        "/v1/auth/login", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert is_problem(response)


async def test_unknown_route_and_method_are_problems(client: Client) -> None:
    assert is_problem(await client.get("/v1/nowhere"))
    response = await client.delete("/health")
    assert response.status_code == 405
    assert is_problem(response)


async def test_idempotency_key_replays_and_rejects_a_different_body(client: Client) -> None:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    key = uuid.uuid4().hex
    body = {"email": f"idem-{key[:8]}@demo.test", "name": "Idem Potent", "roles": ["learner"]}
    headers = {**admin, "Idempotency-Key": key}
    first = await client.post("/v1/users", json=body, headers=headers)
    assert first.status_code == 201, first.text
    replay = await client.post("/v1/users", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers.get("idempotent-replayed") == "true"
    different = await client.post("/v1/users", json={**body, "name": "Someone Else"}, headers=headers)
    assert different.status_code == 422
    assert is_problem(different)
    # Without the key, the same body conflicts with the user created above: nothing is written twice.
    again = await client.post("/v1/users", json=body, headers=admin)
    assert again.status_code == 409


async def test_failed_create_writes_nothing(client: Client) -> None:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    email = f"half-{uuid.uuid4().hex[:8]}@demo.test"
    bad = await client.post("/v1/users", json={"email": email, "name": "X", "roles": ["wizard"]}, headers=admin)
    assert bad.status_code in (400, 422)
    listing = (await client.get("/v1/users", params={"limit": 100}, headers=admin)).json()
    assert email not in {u["email"] for u in listing["items"]}


async def test_deprecated_route_carries_deprecation_and_sunset(client: Client) -> None:
    learner = await auth_headers(client, "learner@demo.test", "demo")
    response = await client.get("/v1/users/me", headers=learner)
    assert response.status_code == 200
    assert response.headers["deprecation"].startswith("@")
    assert "GMT" in response.headers["sunset"]
    assert "/v1/me" in response.headers["link"]


async def test_openapi_schema_is_served(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/v1/courses" in schema["paths"]
    page = await client.get("/schema")
    assert page.status_code == 200
    # The interactive docs load their assets from this server, never from a CDN.
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert (await client.get("/static/swagger-ui/swagger-ui-bundle.js")).status_code == 200


async def test_metrics_exposes_route_latency(client: Client) -> None:
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert "lyceum_http_request_duration_seconds" in text
    assert "lyceum_db_pool_checked_out" in text
