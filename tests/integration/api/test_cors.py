"""CORS (app/lib/edge.py): off by default, preflights answered for configured origins, refusals as
problem+json, credentials only when asked for with an explicit origin list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.config import ConfigError, load_settings
from tests.support.hostile import assert_refused
from tests.support.stack import make_settings

Client = AsyncTestClient[Litestar]
APP_ORIGIN = "https://app.example"
PREFLIGHT = {
    "Origin": APP_ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


async def _client(env: dict[str, str], **fixtures: Any) -> AsyncIterator[Client]:
    settings = make_settings(
        fixtures["database_url"],
        fixtures["redis_url"],
        fixtures["redis_prefix"],
        fixtures["tmp_data_dir"],
        **env,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def cors(database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, seeded: Any) -> Any:
    async for client in _client(
        {"LYCEUM_CORS_ORIGINS": f"{APP_ORIGIN},https://admin.example"},
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        tmp_data_dir=tmp_data_dir,
    ):
        yield client


@pytest.fixture(scope="module")
async def cors_credentials(
    database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, seeded: Any
) -> Any:
    async for client in _client(
        {"LYCEUM_CORS_ORIGINS": APP_ORIGIN, "LYCEUM_CORS_ALLOW_CREDENTIALS": "true"},
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        tmp_data_dir=tmp_data_dir,
    ):
        yield client


@pytest.fixture(scope="module")
async def cors_any(database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, seeded: Any) -> Any:
    async for client in _client(
        {"LYCEUM_CORS_ORIGINS": "*"},
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        tmp_data_dir=tmp_data_dir,
    ):
        yield client


async def test_off_by_default_preflights_get_allow_but_no_cors_headers(client: Client) -> None:
    response = await client.options("/v1/auth/login", headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["allow"] == "OPTIONS, POST"
    assert not [h for h in response.headers if h.startswith("access-control-")]
    served = await client.post("/v1/auth/login", headers={"Origin": APP_ORIGIN}, json={})
    assert "access-control-allow-origin" not in served.headers


async def test_preflight_for_a_configured_origin(cors: Client) -> None:
    response = await cors.options("/v1/tutor/sessions", headers=PREFLIGHT)
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "Origin" in response.headers["vary"]
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"]
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed.split(", "))
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["x-request-id"]  # the preflight is logged and traceable like any request


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({**PREFLIGHT, "Origin": "https://evil.example"}, "origin"),
        ({**PREFLIGHT, "Access-Control-Request-Method": "TRACE"}, "Method"),
        ({**PREFLIGHT, "Access-Control-Request-Headers": "x-forwarded-for"}, "headers"),
    ],
)
async def test_refused_preflights_are_403_problems(cors: Client, headers: dict[str, str], why: str) -> None:
    response = await cors.options("/v1/tutor/sessions", headers=headers)
    body = assert_refused(response, 403)
    assert body["type"].endswith("/cors-refused")
    assert why in body["detail"]
    assert "access-control-allow-origin" not in response.headers


async def test_responses_to_a_configured_origin_are_readable_errors_included(cors: Client) -> None:
    """A cross-origin web app must be able to read a 401 (to refresh its token), not just successes."""
    anonymous = await cors.get("/v1/courses", headers={"Origin": APP_ORIGIN})
    assert anonymous.status_code == 401
    assert anonymous.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = anonymous.headers["access-control-expose-headers"]
    assert "X-Request-ID" in exposed
    assert "Retry-After" in exposed
    other = await cors.get("/v1/courses", headers={"Origin": "https://evil.example"})
    assert other.status_code == 401
    assert "access-control-allow-origin" not in other.headers


async def test_credentials_only_when_configured(cors_credentials: Client) -> None:
    preflight = await cors_credentials.options("/v1/auth/refresh", headers=PREFLIGHT)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN  # never "*" with credentials
    served = await cors_credentials.post("/v1/auth/refresh", headers={"Origin": APP_ORIGIN}, json={})
    assert served.headers["access-control-allow-credentials"] == "true"


async def test_any_origin_is_a_wildcard_without_credentials(cors_any: Client) -> None:
    preflight = await cors_any.options("/v1/courses", headers={**PREFLIGHT, "Origin": "https://anyone.example"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers


@pytest.mark.parametrize("origins", ["", "*", "https://a.example,*"])
def test_credentials_need_an_explicit_origin_list(origins: str) -> None:
    env = {"LYCEUM_SECRET_KEY": "k" * 40, "LYCEUM_CORS_ORIGINS": origins, "LYCEUM_CORS_ALLOW_CREDENTIALS": "true"}
    with pytest.raises(ConfigError, match="LYCEUM_CORS_ALLOW_CREDENTIALS"):
        load_settings(env)
