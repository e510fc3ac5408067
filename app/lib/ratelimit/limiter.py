"""Redis Lua rate limiters: one EVALSHA round trip decides across several buckets atomically.

``TokenBucketLimiter``: burst + steady refill. A call checks e.g. [user, org, global]: either every bucket
can pay ``cost`` and all are charged, or none is charged and the Decision names the bucket that
refused and when to retry. Time comes from the Redis server clock, so client clocks never matter.

Redis failures surface as ``RateLimiterUnavailable``; whether to fail open or closed is the caller's
policy, not this module's.

Coalescing (issue 15): concurrent ``hit`` calls (those of one event-loop tick, and those that arrive
while the previous batch is in flight: app/lib/coalesce.py) go to Redis together, as one EVALSHA of a
batch script that runs the same token-bucket code once per call, in call order. Each decision is exactly
what that call alone would have decided at that point (the batch is the calls run back to back,
atomically), so nothing is over-admitted and the reference model still holds; what changes is the cost:
one round trip and one reply for a batch of requests instead of one each (redis-py's per-command Python
is most of a decision's CPU). A lone call still uses the plain script. A failure (Redis down, slow, pool
exhausted) fails every call of the batch with ``RateLimiterUnavailable``, as it would have failed each of
them; a call waits at most for the batch in flight plus its own (two short timeouts when Redis hangs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, ClassVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from app.config import RateLimit
from app.lib.coalesce import Coalescer

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


# At most this many calls per batch EVALSHA: the script blocks Redis while it runs (~5 us per call).
MAX_BATCH = 128

# The batch script: the single-call script's body as a function of (KEYS, ARGV), run once per call.
# ARGV = [calls, then per call: number of keys, cost, burst and rate per key]; KEYS = every call's keys in
# order. Replies are the single script's, joined by ';'.
_BATCH_HEAD = "local function decide(KEYS, ARGV)\n"
_BATCH_TAIL = """
end
local out, k, a = {}, 1, 2
for c = 1, tonumber(ARGV[1]) do
  local nkeys = tonumber(ARGV[a])
  local keys, args = {}, {}
  for i = 1, nkeys do
    keys[i] = KEYS[k]
    k = k + 1
  end
  for i = 1, 1 + 2 * nkeys do
    args[i] = ARGV[a + i]
  end
  a = a + 2 + 2 * nkeys
  out[c] = decide(keys, args)
end
return table.concat(out, ';')
"""

_Command = tuple[list[str], list[int | float]]


class _Decisions(Coalescer[_Command, Any]):
    """The limiter's coalescer: a batch of one runs the plain script, a larger one the batch script."""

    def __init__(self, limiter: _LuaLimiter) -> None:
        super().__init__()
        self._limiter = limiter

    def _split(
        self, calls: list[tuple[_Command, asyncio.Future[Any]]]
    ) -> list[list[tuple[_Command, asyncio.Future[Any]]]]:
        return [calls[start : start + MAX_BATCH] for start in range(0, len(calls), MAX_BATCH)]

    async def _run(self, calls: Sequence[_Command]) -> list[Any]:
        if len(calls) == 1:
            return [await self._limiter._run_one(*calls[0])]
        return await self._limiter._run_batch(calls)


class _LuaLimiter:
    _script_name: ClassVar[str]

    def __init__(self, redis: Redis, prefix: str, *, coalesce: bool = True) -> None:
        self._redis = redis
        self._prefix = prefix
        self._source = files("app.lib.ratelimit").joinpath(self._script_name).read_text(encoding="utf-8")
        self._script = redis.register_script(self._source)
        self._batch_script = redis.register_script(_BATCH_HEAD + self._source + _BATCH_TAIL)
        self._decisions = _Decisions(self) if coalesce else None
        self._single_trips = 0

    @property
    def round_trips(self) -> int:
        """EVALSHA commands sent by ``hit`` (tests and benchmarks read it)."""
        return self._single_trips + (self._decisions.round_trips if self._decisions else 0)

    async def hit(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        """Charge ``cost`` to every bucket, or to none if any bucket cannot pay; one round trip, shared
        with the concurrent calls when coalescing (app/lib/coalesce.py)."""
        keys, args = self._command(buckets, cost)
        if self._decisions is None:
            self._single_trips += 1
            return _decision(await self._run_one(keys, args), buckets)
        return _decision(await self._decisions._call((keys, args)), buckets)

    async def _run_one(self, keys: list[str], args: list[int | float]) -> Any:
        try:
            return await self._script(keys=keys, args=args)
        except Exception as exc:
            if _unavailable(exc):
                raise RateLimiterUnavailable(f"rate limiter: redis unavailable: {exc}") from exc
            raise

    async def _run_batch(self, batch: Sequence[_Command]) -> list[Any]:
        keys: list[str] = []
        args: list[int | float] = [len(batch)]
        for call_keys, call_args in batch:
            keys += call_keys
            args.append(len(call_keys))
            args += call_args
        try:
            reply = await self._batch_script(keys=keys, args=args)
        except Exception as exc:
            if _unavailable(exc):
                raise RateLimiterUnavailable(f"rate limiter: redis unavailable: {exc}") from exc
            raise
        replies: list[Any] = reply.split(b";" if isinstance(reply, bytes) else ";")
        return replies

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
