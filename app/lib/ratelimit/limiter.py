"""Redis Lua rate limiters: one EVALSHA round trip decides across several buckets atomically.

``TokenBucketLimiter``: burst + steady refill. A call checks e.g. [user, org, global]: either every bucket
can pay ``cost`` and all are charged, or none is charged and the Decision names the bucket that
refused and when to retry. Time comes from the Redis server clock, so client clocks never matter.

Redis failures surface as ``RateLimiterUnavailable``; whether to fail open or closed is the caller's
policy, not this module's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, ClassVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from app.config import RateLimit

__all__ = [
    "Bucket",
    "Decision",
    "RateLimiterUnavailable",
    "TokenBucketLimiter",
    "bucket",
]


@dataclass(frozen=True, slots=True)
class Bucket:
    """One limit to check: ``burst`` tokens refilled at ``per_second`` (window = burst / per_second)."""

    name: str  # policy name shown in headers: "user", "org", "global"
    key: str  # Redis key without the limiter's prefix, e.g. "rl:api:user:<uuid>"
    burst: int
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError(f"bucket {self.name!r}: burst must be at least 1, got {self.burst}")
        if not self.per_second > 0:
            raise ValueError(f"bucket {self.name!r}: per_second must be positive, got {self.per_second}")

    @property
    def window(self) -> float:
        """Seconds to refill from empty."""
        return self.burst / self.per_second


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limiting: Bucket  # the bucket with the least remaining, or the one that refused
    remaining: int  # whole units left in ``limiting``
    retry_after: float  # seconds until the call could succeed; 0 when allowed
    reset: float  # seconds until ``limiting`` is full again
    buckets: tuple[Bucket, ...]


class RateLimiterUnavailable(Exception):
    """Redis could not be reached or did not answer in time; no decision was made."""


def bucket(name: str, key: str, limit: RateLimit) -> Bucket:
    """A Bucket from a configured ``RateLimit`` (e.g. ``settings.rate_limit_api_user``)."""
    return Bucket(name=name, key=key, burst=limit.burst, per_second=limit.per_second)


# Server-side conditions that mean "Redis can't decide right now", as opposed to a bug.
_UNAVAILABLE_REPLIES = ("OOM", "BUSY", "READONLY", "MASTERDOWN", "LOADING", "TRYAGAIN", "CLUSTERDOWN")


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | TimeoutError | OSError):
        return True
    return isinstance(exc, redis_errors.ResponseError) and str(exc).startswith(_UNAVAILABLE_REPLIES)


class _LuaLimiter:
    _script_name: ClassVar[str]

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._source = files("app.lib.ratelimit").joinpath(self._script_name).read_text(encoding="utf-8")
        self._script = redis.register_script(self._source)

    async def hit(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        """Charge ``cost`` to every bucket, or to none if any bucket cannot pay; one round trip."""
        keys, args = self._command(buckets, cost)
        try:
            reply = await self._script(keys=keys, args=args)
        except Exception as exc:
            if _unavailable(exc):
                raise RateLimiterUnavailable(f"rate limiter: redis unavailable: {exc}") from exc
            raise
        return _decision(reply, buckets)

    async def hit_many(self, calls: Sequence[Sequence[Bucket]], cost: int = 1) -> list[Decision]:
        """``hit`` for many independent calls in one pipeline (not a transaction: each call is atomic)."""
        commands = [self._command(buckets, cost) for buckets in calls]
        replies: list[Any] = [None] * len(commands)
        pending = list(range(len(commands)))
        try:
            for attempt in range(2):
                pipe = self._redis.pipeline(transaction=False)
                for index in pending:
                    keys, args = commands[index]
                    pipe.evalsha(self._script.sha, len(keys), *keys, *args)
                results = await pipe.execute(raise_on_error=False)
                retry: list[int] = []
                for index, result in zip(pending, results, strict=True):
                    if isinstance(result, redis_errors.NoScriptError) and attempt == 0:
                        retry.append(index)  # this one did not run: safe to send again
                    elif isinstance(result, Exception):
                        raise result
                    else:
                        replies[index] = result
                if not retry:
                    break
                self._script.sha = await self._redis.script_load(self._source)
                pending = retry
        except Exception as exc:
            if _unavailable(exc):
                raise RateLimiterUnavailable(f"rate limiter: redis unavailable: {exc}") from exc
            raise
        return [_decision(reply, buckets) for reply, buckets in zip(replies, calls, strict=True)]

    def _command(self, buckets: Sequence[Bucket], cost: int) -> tuple[list[str], list[int | float]]:
        if not buckets:
            raise ValueError("at least one bucket is required")
        if cost < 1:
            raise ValueError(f"cost must be at least 1, got {cost}")
        keys = [self._prefix + b.key for b in buckets]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate bucket keys in one call: {keys}")
        args: list[int | float] = [cost]
        for b in buckets:
            if cost > b.burst:
                raise ValueError(f"cost {cost} exceeds the burst {b.burst} of bucket {b.name!r}: it could never pass")
            args += [b.burst, b.per_second]
        return keys, args


def _decision(reply: Any, buckets: Sequence[Bucket]) -> Decision:
    # "<allowed 1|0> <limiting index, 1-based> <remaining> <retry_after s> <reset s>" (bytes or str).
    allowed, index, remaining, retry_after, reset = reply.split()
    return Decision(
        allowed=int(allowed) == 1,
        limiting=buckets[int(index) - 1],
        remaining=max(0, int(float(remaining))),
        retry_after=max(0.0, float(retry_after)),
        reset=max(0.0, float(reset)),
        buckets=tuple(buckets),
    )


class TokenBucketLimiter(_LuaLimiter):
    """Token bucket per key: up to ``burst`` at once, then ``per_second`` sustained."""

    _script_name = "token_bucket.lua"
