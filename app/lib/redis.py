"""The one Redis client factory. Everything that talks to Redis gets its client from here."""

from __future__ import annotations

from typing import Literal

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

ClientRole = Literal["general", "limiter"]


def create_redis(url: str, role: ClientRole = "general") -> Redis:
    """A pooled client. ``limiter`` clients answer fast or fail fast: no retries (a retried EVALSHA could
    charge a request twice) and short timeouts (a hung Redis must not stall requests; the limiter's
    fail-open/closed policy applies instead)."""
    if role == "limiter":
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=256,
            timeout=0.25,
            socket_connect_timeout=0.25,
            socket_timeout=0.25,
            retry=Retry(NoBackoff(), 0),
        )
        return Redis(connection_pool=pool)
    # decode_responses stays off so cached JSON bytes pass through untouched.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=256, timeout=5, health_check_interval=30, socket_connect_timeout=2, socket_timeout=5
    )
    return Redis(connection_pool=pool)
