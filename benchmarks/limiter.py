"""Rate-limiter throughput against a real Redis: decisions per second, three ways.

    uv run python benchmarks/limiter.py --redis-url redis://127.0.0.1:6379/15 --seconds 3

1. sequential      one awaited ``hit`` at a time (latency-bound: one round trip per decision)
2. concurrent_50   50 tasks calling ``hit`` at once over the client's connection pool, one EVALSHA each
                   (``coalesce=False``: the limiter before issue 15)
3. coalesced_50    the same 50 tasks with coalescing (the default): the calls of one event-loop tick go
                   as one EVALSHA of the batch script; ``coalesced_50_calls_per_round_trip`` says how many
4. pipelined_200   ``hit_many`` batches of 200 EVALSHA in one pipeline (one round trip per batch)

Every decision checks three buckets (user, org, global), the shape the API middleware uses; limits
are high so nearly every call is allowed, which is the expensive path (it writes all three hashes).
Keys live under a random ``bench:ratelimit:<id>:`` prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections.abc import Sequence

from app.lib.ratelimit import Bucket, TokenBucketLimiter
from app.lib.redis import create_redis

CONCURRENCY = 50
BATCH = 200


def _calls(count: int, rng: random.Random) -> list[list[Bucket]]:
    calls = []
    for _ in range(count):
        org = rng.randrange(20)
        user = rng.randrange(5000)
        calls.append(
            [
                Bucket("user", f"user:{org}:{user}", 1_000_000, 10_000.0),
                Bucket("org", f"org:{org}", 10_000_000, 100_000.0),
                Bucket("global", "global", 100_000_000, 1_000_000.0),
            ]
        )
    return calls


async def _sequential(limiter: TokenBucketLimiter, calls: Sequence[list[Bucket]], seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        await limiter.hit(calls[done % len(calls)])
        done += 1
    return done / (time.perf_counter() - start)


async def _concurrent(limiter: TokenBucketLimiter, calls: Sequence[list[Bucket]], seconds: float) -> float:
    """Decisions/s of 50 concurrent tasks (coalesced or not, as the limiter was built)."""
    counts = [0] * CONCURRENCY
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(slot: int) -> None:
        i = slot
        while time.perf_counter() < deadline:
            await limiter.hit(calls[i % len(calls)])
            counts[slot] += 1
            i += CONCURRENCY

    await asyncio.gather(*(worker(slot) for slot in range(CONCURRENCY)))
    return sum(counts) / (time.perf_counter() - start)


async def _pipelined(limiter: TokenBucketLimiter, calls: Sequence[list[Bucket]], seconds: float) -> float:
    batches = [calls[i : i + BATCH] for i in range(0, len(calls) - BATCH + 1, BATCH)]
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        decisions = await limiter.hit_many(batches[(done // BATCH) % len(batches)])
        done += len(decisions)
    return done / (time.perf_counter() - start)


async def measure_limiter(redis_url: str, seconds: float = 3.0) -> dict[str, float]:
    """Decisions/s for each mode; each mode runs for ``seconds``."""
    redis = create_redis(redis_url)
    prefix = f"bench:ratelimit:{uuid.uuid4().hex[:10]}:"
    calls = _calls(20 * BATCH, random.Random(7))
    try:
        limiter = TokenBucketLimiter(redis, prefix, coalesce=False)
        coalescing = TokenBucketLimiter(redis, prefix)
        await limiter.hit(calls[0])  # load the script, open a connection
        await asyncio.gather(coalescing.hit(calls[1]), coalescing.hit(calls[2]))  # and the batch script
        results = {
            "sequential_per_s": await _sequential(limiter, calls, seconds),
            f"concurrent_{CONCURRENCY}_per_s": await _concurrent(limiter, calls, seconds),
        }
        trips_before = coalescing.round_trips
        decided = 0

        async def counted() -> float:
            nonlocal decided
            rate = await _concurrent(coalescing, calls, seconds)
            decided = int(rate * seconds)
            return rate

        results[f"coalesced_{CONCURRENCY}_per_s"] = await counted()
        results[f"coalesced_{CONCURRENCY}_calls_per_round_trip"] = decided / max(
            1, coalescing.round_trips - trips_before
        )
        results[f"pipelined_{BATCH}_per_s"] = await _pipelined(limiter, calls, seconds)
        latency_ms = 1000 / results["sequential_per_s"]
        results["sequential_latency_ms"] = latency_ms
        return results
    finally:
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            await redis.delete(key)
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    parser.add_argument("--redis-url", default=default_url, help=f"default: {default_url}")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each mode (default 3)")
    options = parser.parse_args()
    results = asyncio.run(measure_limiter(options.redis_url, options.seconds))
    width = max(len(name) for name in results)
    for name, value in results.items():
        if name.endswith("_ms"):
            print(f"{name:<{width}}  {value:>12,.2f} ms")
        elif name.endswith("_round_trip"):
            print(f"{name:<{width}}  {value:>12,.1f} calls")
        else:
            print(f"{name:<{width}}  {value:>12,.0f} decisions/s")


if __name__ == "__main__":
    main()
