"""Two API processes (two apps, one Redis and database) for the live review feed tests,
with a small per-subscriber queue so a slow consumer is quick to provoke."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from app.asgi import create_app
from app.config import Settings
from app.lib.events import EventBus
from app.lib.redis import create_redis
from tests.support.stack import bearer_for, make_settings, run_live_server

FEED_QUEUE_SIZE = 8


@pytest.fixture(scope="session")
def feed_settings(database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path) -> Settings:
    return make_settings(
        database_url,
        redis_url,
        redis_prefix,
        tmp_data_dir,
        LYCEUM_FEED_QUEUE_SIZE=str(FEED_QUEUE_SIZE),
        LYCEUM_FEED_PING_SECONDS="1",
    )


@pytest.fixture(scope="session")
def feed_servers(feed_settings: Settings, seeded: Any) -> Iterator[tuple[str, str]]:
    """Two API processes serving the same feed."""
    started = [run_live_server(create_app(feed_settings)) for _ in range(2)]
    yield started[0][0], started[1][0]
    for _, server, _ in started:
        server.should_exit = True
    for _, _, thread in started:
        thread.join(timeout=10)


@pytest.fixture
async def bus(redis_url: str, redis_prefix: str) -> AsyncIterator[EventBus]:
    """A third process's bus: publishes into the same Redis as the servers."""
    client = create_redis(redis_url)
    events = EventBus(client, redis_prefix)
    yield events
    await events.aclose()
    await client.aclose()


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[Redis]:
    client = create_redis(redis_url)
    yield client
    await client.aclose()


def login(url: str, email: str, org: str = "demo") -> dict[str, str]:
    return bearer_for(url, email, org)


def org_id(url: str, headers: dict[str, str]) -> str:
    return str(httpx.get(f"{url}/v1/me", headers=headers).json()["org_id"])


def ws(url: str, query: str = "") -> str:
    return url.replace("http://", "ws://") + "/v1/review/feed" + (f"?{query}" if query else "")


async def frame(socket: Any, wait: float = 15) -> dict[str, Any]:
    """The next frame that is not a keep-alive ping."""
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), wait))
        if message["type"] != "ping":
            return dict(message)


async def until_ready(socket: Any) -> list[dict[str, Any]]:
    """The replayed events, up to the ready frame (after which the feed is live)."""
    replayed = []
    while (message := await frame(socket))["type"] != "ready":
        replayed.append(message)
    assert message["replayed"] == len(replayed)
    return replayed


async def read_until_closed(socket: Any, wait: float = 30) -> tuple[int, int | None, str]:
    """Frames read before the server closed the socket, and the close code and reason."""
    count = 0
    try:
        while True:
            await asyncio.wait_for(socket.recv(), wait)
            count += 1
    except ConnectionClosed as closed:
        received = closed.rcvd
        return count, (received.code if received else None), (received.reason if received else "")
