"""Revocation that does not depend on Redis keeping its data, and Redis failures that cost requests a
bounded wait: a Redis flushed (restarted empty), unreachable, or hung (accepts, never answers)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.asgi import create_app
from app.config import Settings
from app.lib.redis import CircuitBreaker, RedisCircuitOpen, create_redis
from app.server.components import components_of
from tests.support.stack import DEMO_PASSWORD, auth_headers, login, make_settings

Client = AsyncTestClient[Litestar]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture(scope="module")
def loss_prefix(settings: Settings) -> str:
    return settings.redis_key_prefix + "loss:"


@pytest.fixture(scope="module")
async def lossy(
    settings: Settings, seeded: Any, loss_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Client]:
    """An app with its own key prefix, so flushing "its Redis" touches nothing else of the test run."""
    app = create_app(
        make_settings(settings.database_url, settings.redis_url, loss_prefix, Path(tmp_path_factory.mktemp("loss")))
    )
    async with AsyncTestClient(app=app) as client:
        yield client


async def new_member(client: Client) -> dict[str, Any]:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    email = f"rev-{uuid.uuid4().hex[:10]}@demo.test"
    created = await client.post(
        "/v1/users",
        headers=admin,
        json={"email": email, "name": "Rae Revoked", "roles": ["learner"], "password": DEMO_PASSWORD},
    )
    assert created.status_code == 201, created.text
    return {**created.json(), "password": DEMO_PASSWORD}


async def flush(redis_url: str, prefix: str) -> int:
    """What a Redis restart without persistence does to this app: every one of its keys is gone."""
    client = create_redis(redis_url)
    deleted = 0
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        deleted += await client.delete(key)
    await client.aclose()
    return deleted


async def test_revocation_survives_losing_redis(lossy: Client, settings: Settings, loss_prefix: str) -> None:
    admin = await auth_headers(lossy, "admin@demo.test", "demo")
    # A user who logged out of one of two sessions.
    leaver = await new_member(lossy)
    gone, kept = await login(lossy, leaver["email"], "demo"), await login(lossy, leaver["email"], "demo")
    assert (await lossy.post("/v1/auth/logout", headers=bearer(gone))).status_code == 204
    # A user who changed their password in one session; the other session must stay ended.
    changer = await new_member(lossy)
    mine, theirs = await login(lossy, changer["email"], "demo"), await login(lossy, changer["email"], "demo")
    changed = await lossy.post(
        "/v1/me/password",
        headers=bearer(mine),
        json={"current_password": DEMO_PASSWORD, "new_password": "another-password-77"},
    )
    assert changed.status_code == 200
    # A user an admin deactivated.
    deactivated = await new_member(lossy)
    session = await login(lossy, deactivated["email"], "demo")
    off = await lossy.patch(f"/v1/users/{deactivated['id']}", headers=admin, json={"is_active": False})
    assert off.status_code == 200

    dead = [gone, theirs, session]
    for tokens in dead:
        assert (await lossy.get("/v1/me", headers=bearer(tokens))).status_code == 401

    assert await flush(settings.redis_url, loss_prefix) > 0  # Redis restarts empty

    for tokens in dead:
        me = await lossy.get("/v1/me", headers=bearer(tokens))
        assert me.status_code == 401, me.text  # before: a logged-out access token worked again here
        refresh = await lossy.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refresh.status_code == 401
    # Sessions that were never revoked are untouched by the loss.
    assert (await lossy.get("/v1/me", headers=bearer(kept))).status_code == 200
    assert (await lossy.get("/v1/me", headers=bearer(changed.json()))).status_code == 200
    # And a second loss right after a revocation (the cache was just cleared): still dead.
    assert (await lossy.post("/v1/auth/logout", headers=bearer(kept))).status_code == 204
    await flush(settings.redis_url, loss_prefix)
    assert (await lossy.get("/v1/me", headers=bearer(kept))).status_code == 401


async def test_revoked_tokens_stay_revoked_while_redis_is_down(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    """Redis refusing connections used to mean reads skipped the denylist (fail open); now PostgreSQL answers."""
    user = await new_member(client)
    revoked, valid = await login(client, user["email"], "demo"), await login(client, user["email"], "demo")
    assert (await client.post("/v1/auth/logout", headers=bearer(revoked))).status_code == 204
    broken = make_settings(settings.database_url, "redis://127.0.0.1:1/0", settings.redis_key_prefix, tmp_path)
    async with AsyncTestClient(app=create_app(broken)) as degraded:
        assert (await degraded.get("/v1/me", headers=bearer(revoked))).status_code == 401
        assert (await degraded.get("/v1/me", headers=bearer(valid))).status_code == 200
        # Logging out needs no Redis either: PostgreSQL holds the revocation.
        assert (await degraded.post("/v1/auth/logout", headers=bearer(valid))).status_code == 204
        assert (await degraded.get("/v1/me", headers=bearer(valid))).status_code == 401
        metrics = (await degraded.get("/metrics")).text
        assert 'lyceum_token_denylist_errors_total{mode="database"}' in metrics
    # Redis is back and never heard of that logout: the cached state it may still hold must not count.
    assert (await client.get("/v1/me", headers=bearer(valid))).status_code == 401


class HungRedis:
    """A TCP server that accepts connections and never answers: a wedged or blackholed Redis."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._open:
            conn.close()
        self._server.close()


@pytest.fixture
def hung_redis() -> Iterator[HungRedis]:
    server = HungRedis()
    yield server
    server.close()


async def test_a_hung_redis_is_given_up_on(
    client: Client, settings: Settings, tmp_path: Path, hung_redis: HungRedis
) -> None:
    """Every Redis call on the request path goes through the fail-fast client: after three calls time out
    (250 ms each) the breaker opens and requests stop waiting for Redis at all. Measured before/after in
    docs/architecture.md; here the proof is structural: far fewer connections than requests."""
    tokens = await login(client, "learner@demo.test", "demo")
    course_id = (await client.get("/v1/courses", headers=bearer(tokens))).json()["items"][0]["id"]
    hung = make_settings(
        settings.database_url, f"redis://127.0.0.1:{hung_redis.port}/0", settings.redis_key_prefix, tmp_path
    )
    app = create_app(hung)
    requests = 20
    async with AsyncTestClient(app=app) as stuck:
        for _ in range(requests):
            detail = await stuck.get(f"/v1/courses/{course_id}", headers=bearer(tokens))
            assert detail.status_code == 200, detail.text  # token checked in PostgreSQL, cache bypassed
        assert components_of(app).limiter_redis.breaker.is_open
        write = await stuck.post(f"/v1/courses/{course_id}/enrollments", headers=bearer(tokens))
        assert write.status_code == 503
        assert write.headers["retry-after"] == "5"
        assert write.headers["content-type"].startswith("application/problem+json")
    # Without the breaker each request opened several connections (denylist, limiter, cache get and set).
    assert hung_redis.connections < requests, hung_redis.connections


def test_circuit_breaker_opens_after_consecutive_failures_and_probes() -> None:
    now = [100.0]
    breaker = CircuitBreaker(threshold=3, cooldown=2.0, clock=lambda: now[0])
    breaker.failure()
    breaker.failure()
    breaker.success()  # a success in between: one slow reply is not an outage
    breaker.failure()
    breaker.failure()
    assert breaker.allow()
    assert not breaker.is_open
    breaker.failure()
    assert breaker.is_open
    assert not breaker.allow()
    now[0] += 2.0
    assert breaker.allow()  # one probe after the cooldown
    assert not breaker.allow()  # and only one
    breaker.failure()
    assert not breaker.allow()
    now[0] += 2.0
    assert breaker.allow()
    breaker.success()
    assert not breaker.is_open
    assert breaker.allow()


async def test_an_open_breaker_fails_without_touching_the_network(hung_redis: HungRedis) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=3600)
    client = create_redis(f"redis://127.0.0.1:{hung_redis.port}/0", role="limiter", breaker=breaker)
    with pytest.raises(RedisTimeoutError):
        await client.get("k")  # times out after 250 ms: opens the breaker
    connections = hung_redis.connections
    for _ in range(5):
        with pytest.raises(RedisCircuitOpen):
            await client.get("k")
    assert hung_redis.connections == connections
    await client.aclose()


async def test_sockets_refuse_revoked_tokens_after_the_cache_is_lost(live_url: str, settings: Settings) -> None:
    """WebSockets authenticate through the same check: a logged-out token opens no tutor socket, even once
    Redis has forgotten every cached revocation state."""
    import httpx
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with httpx.AsyncClient(base_url=live_url) as http:
        tokens = (
            await http.post(
                "/v1/auth/login", json={"email": "learner@demo.test", "password": DEMO_PASSWORD, "org": "demo"}
            )
        ).json()
        course = (await http.get("/v1/courses", headers=bearer(tokens))).json()["items"][0]
        session = await http.post("/v1/tutor/sessions", headers=bearer(tokens), json={"course_id": course["id"]})
        assert session.status_code == 201, session.text
        assert (await http.post("/v1/auth/logout", headers=bearer(tokens))).status_code == 204
    client = create_redis(settings.redis_url)
    async for key in client.scan_iter(match=f"{settings.redis_key_prefix}auth:*", count=1000):
        await client.delete(key)
    await client.aclose()
    url = live_url.replace("http://", "ws://") + session.json()["websocket_url"]
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 15)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
