"""The one Redis client factory. Everything that talks to Redis gets its client from here.

Two roles. ``limiter`` is the *fail-fast* client, used for every Redis call on a request's path (rate
limits, token revocation checks, the course cache, idempotency records, tutor budgets, event publishing):
250 ms timeouts, no retries, and a circuit breaker, so a Redis that accepts connections but never answers
costs a request a bounded, small wait instead of the general client's 5 s socket timeout per call.
``general`` serves what may legitimately wait: the live feed's pub/sub connection, stream replays, the
worker's heartbeat and ``/ready``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from app.lib import tracing
from app.lib.observability import REDIS_CIRCUIT_OPENED

ClientRole = Literal["general", "limiter"]
FAST_TIMEOUT_SECONDS = 0.25
# Opening a connection gets longer: a burst of new connections on a busy event loop (50 tutor turns at once
# on a loaded machine) took more than 250 ms to complete on loopback and failed spuriously. A Redis that
# accepts and never answers is still bounded by the read timeout; one that is unreachable opens the breaker.
FAST_CONNECT_TIMEOUT_SECONDS = 1.0
# Consecutive failures before the breaker opens: one slow reply on a loaded machine must not take Redis
# away from every request; three in a row without a single success is an outage.
BREAKER_THRESHOLD = 3
BREAKER_COOLDOWN_SECONDS = 2.0


class RedisCircuitOpen(RedisConnectionError):
    """Raised without touching the network while the breaker is open. A ConnectionError, so every
    existing fail-open / fail-closed policy applies unchanged."""


class CircuitBreaker:
    """Open after ``threshold`` consecutive connection failures or timeouts; while open, calls fail at
    once. After ``cooldown`` seconds one call is let through as a probe (the window restarts, so
    concurrent calls keep failing fast); its success closes the breaker."""

    def __init__(
        self,
        threshold: int = BREAKER_THRESHOLD,
        cooldown: float = BREAKER_COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._failures >= self.threshold

    def allow(self) -> bool:
        if not self.is_open:
            return True
        now = self._clock()
        if now < self._open_until:
            return False
        self._open_until = now + self.cooldown  # this caller probes; everyone else keeps failing fast
        return True

    def success(self) -> None:
        self._failures = 0
        self._open_until = 0.0

    def failure(self) -> None:
        self._failures += 1
        if self._failures == self.threshold:
            REDIS_CIRCUIT_OPENED.inc()
        if self._failures >= self.threshold:
            self._open_until = self._clock() + self.cooldown


class TracedRedis(Redis):
    """A client whose commands are client spans while OpenTelemetry tracing is on (app/lib/tracing.py): the
    command name only, never its keys or values. Off, the one extra step is a check of a module global."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if not tracing.enabled():
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        with tracing.redis_span(str(args[0]) if args else "") as span:
            try:
                return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
            except RedisError as exc:
                tracing.mark_error(span, exc)
                raise


class FailFastRedis(TracedRedis):
    """A client whose commands go through a circuit breaker (pipelines keep the short timeouts only)."""

    breaker: CircuitBreaker

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if not self.breaker.allow():
            raise RedisCircuitOpen("Redis is not answering; failing fast until it does")
        try:
            result = await super().execute_command(*args, **options)
        except (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError):
            self.breaker.failure()
            raise
        except RedisError:  # Redis answered (e.g. NOSCRIPT): it is up
            self.breaker.success()
            raise
        self.breaker.success()
        return result


def create_redis(url: str, role: ClientRole = "general", *, breaker: CircuitBreaker | None = None) -> Redis:
    """A pooled client. ``limiter`` clients answer fast or fail fast: no retries (a retried EVALSHA could
    charge a request twice), short timeouts and a circuit breaker (a hung Redis must not stall requests;
    each caller's fail-open/closed policy applies instead)."""
    if role == "limiter":
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=256,
            timeout=FAST_TIMEOUT_SECONDS,
            socket_connect_timeout=FAST_CONNECT_TIMEOUT_SECONDS,
            socket_timeout=FAST_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        client = FailFastRedis(connection_pool=pool)
        client.breaker = breaker or CircuitBreaker()
        return client
    # decode_responses stays off so cached JSON bytes pass through untouched.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=256, timeout=5, health_check_interval=30, socket_connect_timeout=2, socket_timeout=5
    )
    return TracedRedis(connection_pool=pool)
