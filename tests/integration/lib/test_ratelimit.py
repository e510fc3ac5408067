"""The Redis Lua rate limiters, against a real Redis (TEST_REDIS_URL or the embedded server)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.config import RateLimit
from app.lib.ratelimit import (
    Bucket,
    Decision,
    RateLimiterUnavailable,
    TokenBucketLimiter,
    bucket,
    rate_limit_headers,
)
from app.lib.ratelimit.limiter import MAX_BATCH

NEGLIGIBLE = 0.001  # tokens/s: nothing refills during a test


@pytest.fixture
def ns() -> str:
    """A per-test key namespace, so parallel runs and tests never share a bucket."""
    return f"rl:test:{uuid.uuid4().hex}:"


@pytest.fixture
async def wide_redis(redis: Redis, redis_url: str) -> AsyncIterator[Redis]:
    """A client whose pool holds 200 connections in flight (redis-py's default pool stops at 100).

    Depends on ``redis`` so that fixture's cleanup still deletes this run's keys.
    """
    client = Redis.from_url(redis_url, max_connections=256)
    yield client
    await client.aclose()


@pytest.fixture
def limiter(redis: Redis, redis_prefix: str) -> TokenBucketLimiter:
    return TokenBucketLimiter(redis, redis_prefix)


# --- reference model ---------------------------------------------------------------------------


@dataclass
class ModelBucket:
    burst: int
    rate: float
    tokens: float = -1.0
    ts: float = 0.0

    def level(self, now: float) -> float:
        if self.tokens < 0:
            return float(self.burst)
        return min(self.burst, self.tokens + max(0.0, now - self.ts) * self.rate)


def model_hit(buckets: Sequence[ModelBucket], now: float, cost: int = 1) -> bool:
    levels = [b.level(now) for b in buckets]
    if any(level < cost for level in levels):
        return False
    for b, level in zip(buckets, levels, strict=True):
        b.tokens, b.ts = level - cost, now
    return True


async def test_matches_reference_model(limiter: TokenBucketLimiter, ns: str) -> None:
    buckets = [Bucket("user", ns + "user", 5, 20.0), Bucket("org", ns + "org", 8, 12.0)]
    model = [ModelBucket(5, 20.0), ModelBucket(8, 12.0)]
    rng = random.Random(1234)
    # Bursts and pauses: drains the buckets, lets them partly refill, drains again.
    pauses = [rng.choice([0.0, 0.0, 0.0, 0.004, 0.01, 0.03, 0.12]) for _ in range(120)]
    served = expected = 0
    refused_by: set[str] = set()
    for pause in pauses:
        if pause:
            await asyncio.sleep(pause)
        before = time.monotonic()
        decision = await limiter.hit(buckets)
        after = time.monotonic()
        served += decision.allowed
        expected += model_hit(model, (before + after) / 2)
        if not decision.allowed:
            refused_by.add(decision.limiting.name)
    assert expected > 20  # the run exercised refill, not just the initial burst
    assert abs(served - expected) <= 2, (served, expected)
    assert refused_by  # and refusals happened


async def test_burst_then_retry_after(limiter: TokenBucketLimiter, redis: Redis, redis_prefix: str, ns: str) -> None:
    rate = 0.05  # tokens per second: slow enough that no token refills while the burst runs, even when loaded
    only = [Bucket("user", ns + "user", 10, rate)]
    started = time.monotonic()
    decisions = [await limiter.hit(only) for _ in range(11)]
    # The bucket refills while the hits run: after t seconds it holds rate·t of a token, so the refusal's wait
    # is 1/rate - t and the bucket is full again in 10/rate - t (bounds from the measured time, not luck).
    elapsed = time.monotonic() - started
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert [d.remaining for d in decisions[:10]] == list(range(9, -1, -1))
    refused = decisions[-1]
    assert refused.limiting.name == "user"
    assert 1 / rate - elapsed - 0.05 <= refused.retry_after <= 1 / rate + 0.05
    assert 10 / rate - elapsed - 0.1 <= refused.reset <= 10 / rate + 0.1
    assert decisions[0].retry_after == 0
    # The key expires about when the bucket would be full again.
    ttl_ms = await redis.pttl(redis_prefix + ns + "user")
    elapsed = time.monotonic() - started
    assert (10 / rate - elapsed - 1) * 1000 <= ttl_ms <= (10 / rate) * 1000 + 100


async def test_cost_takes_several_tokens(limiter: TokenBucketLimiter, ns: str) -> None:
    only = [Bucket("user", ns + "user", 10, NEGLIGIBLE)]
    assert (await limiter.hit(only, cost=4)).remaining == 6
    assert (await limiter.hit(only, cost=4)).remaining == 2
    refused = await limiter.hit(only, cost=4)
    assert not refused.allowed
    assert refused.remaining == 2  # nothing was taken
    assert (await limiter.hit(only, cost=2)).allowed


async def test_refusal_charges_no_bucket(limiter: TokenBucketLimiter, ns: str) -> None:
    user = Bucket("user", ns + "user:a", 10, NEGLIGIBLE)
    org = Bucket("org", ns + "org", 20, NEGLIGIBLE)
    glob = Bucket("global", ns + "global", 2, NEGLIGIBLE)
    assert [(await limiter.hit([user, org, glob])).allowed for _ in range(2)] == [True, True]
    for _ in range(5):
        refused = await limiter.hit([user, org, glob])
        assert not refused.allowed
        assert refused.limiting.name == "global"
        assert refused.retry_after > 100
    # Only the two allowed calls were charged to user and org.
    after = await limiter.hit([user, org])
    assert after.allowed
    assert after.limiting.name == "user"
    assert after.remaining == 10 - 3
    assert (await limiter.hit([org])).remaining == 20 - 4


async def test_noisy_user_cannot_starve_the_org(limiter: TokenBucketLimiter, ns: str) -> None:
    org = Bucket("org", ns + "org", 20, NEGLIGIBLE)

    def user(name: str) -> list[Bucket]:
        return [Bucket("user", f"{ns}user:{name}", 5, NEGLIGIBLE), org]

    noisy = await asyncio.gather(*(limiter.hit(user("noisy")) for _ in range(60)))
    assert sum(d.allowed for d in noisy) == 5
    assert {d.limiting.name for d in noisy if not d.allowed} == {"user"}
    quiet = [await limiter.hit(user("quiet")) for _ in range(5)]
    assert all(d.allowed for d in quiet)
    assert quiet[-1].remaining == 0
    assert quiet[-1].limiting.name == "user"
    assert (await limiter.hit([org])).remaining == 20 - 10 - 1


async def test_global_cap_under_concurrency(wide_redis: Redis, redis_prefix: str, ns: str) -> None:
    limiter = TokenBucketLimiter(wide_redis, redis_prefix)
    org = Bucket("org", ns + "org", 10_000, 100.0)
    glob = Bucket("global", ns + "global", 50, NEGLIGIBLE)
    calls = [[Bucket("user", f"{ns}user:{i}", 5, 1.0), org, glob] for i in range(200)]
    decisions = await asyncio.gather(*(limiter.hit(c) for c in calls))
    assert sum(d.allowed for d in decisions) == 50
    assert all(d.limiting.name == "global" for d in decisions if not d.allowed)


# --- coalescing: the calls of one event-loop tick share one EVALSHA -------------------------------


async def test_coalesced_calls_match_the_reference_model(limiter: TokenBucketLimiter, ns: str) -> None:
    """Waves of concurrent calls over shared buckets: each wave is one round trip, and every decision is
    the one the reference model takes for the calls in order (no over-admission from batching)."""
    users = [Bucket("user", f"{ns}user:{i}", 3, NEGLIGIBLE) for i in range(6)]
    org = Bucket("org", ns + "org", 40, NEGLIGIBLE)
    glob = Bucket("global", ns + "global", 25, NEGLIGIBLE)
    model_users = [ModelBucket(3, NEGLIGIBLE) for _ in users]
    model_org, model_glob = ModelBucket(40, NEGLIGIBLE), ModelBucket(25, NEGLIGIBLE)
    rng = random.Random(99)
    before = limiter.round_trips
    waves = 6
    for _ in range(waves):
        picks = [rng.randrange(len(users)) for _ in range(rng.randrange(2, 12))]
        costs = [rng.choice((1, 1, 2)) for _ in picks]
        decisions = await asyncio.gather(
            *(limiter.hit([users[u], org, glob], cost) for u, cost in zip(picks, costs, strict=True))
        )
        expected = [
            model_hit([model_users[u], model_org, model_glob], 0.0, cost) for u, cost in zip(picks, costs, strict=True)
        ]
        assert [d.allowed for d in decisions] == expected
    assert limiter.round_trips - before == waves
    assert model_glob.level(0.0) < 25  # the global bucket was actually drawn down


async def test_coalesced_refusals_carry_their_own_bucket(limiter: TokenBucketLimiter, ns: str) -> None:
    glob = Bucket("global", ns + "global", 4, NEGLIGIBLE)
    calls = [[Bucket("user", f"{ns}user:{i % 3}", 1, NEGLIGIBLE), glob] for i in range(6)]
    decisions = await asyncio.gather(*(limiter.hit(c) for c in calls))
    assert [d.allowed for d in decisions] == [True, True, True, False, False, False]
    assert [d.limiting.name for d in decisions[3:]] == ["user", "user", "user"]
    assert decisions[0].limiting.name == "user"
    assert decisions[0].remaining == 0


async def test_coalesced_calls_share_one_connection(redis_url: str, redis: Redis, redis_prefix: str, ns: str) -> None:
    # The five calls that exhaust a one-connection pool without coalescing (test below) go as one batch.
    client = Redis.from_url(redis_url, max_connections=1)
    limiter = TokenBucketLimiter(client, redis_prefix)
    only = [Bucket("user", ns + "user", 10, NEGLIGIBLE)]
    try:
        results = await asyncio.gather(*(limiter.hit(only) for _ in range(5)))
    finally:
        await client.aclose()
    assert sorted(d.remaining for d in results) == [5, 6, 7, 8, 9]
    assert limiter.round_trips == 1


async def test_a_batch_larger_than_the_cap_is_split(wide_redis: Redis, redis_prefix: str, ns: str) -> None:
    limiter = TokenBucketLimiter(wide_redis, redis_prefix)
    glob = Bucket("global", ns + "global", 10_000, NEGLIGIBLE)
    decisions = await asyncio.gather(*(limiter.hit([glob]) for _ in range(MAX_BATCH + 5)))
    assert all(d.allowed for d in decisions)
    assert limiter.round_trips == 2
    assert (await limiter.hit([glob])).remaining == 10_000 - MAX_BATCH - 5 - 1


async def test_batch_script_cache_miss_is_recovered(limiter: TokenBucketLimiter, ns: str) -> None:
    only = [Bucket("user", ns + "user", 3, NEGLIGIBLE)]
    limiter._batch_script.sha = "0" * 40
    decisions = await asyncio.gather(limiter.hit(only), limiter.hit(only))
    assert [d.remaining for d in decisions] == [2, 1]


async def test_hit_many_is_pipelined_hit(limiter: TokenBucketLimiter, ns: str) -> None:
    glob = Bucket("global", ns + "global", 30, NEGLIGIBLE)
    calls = [[Bucket("user", f"{ns}user:{i % 10}", 2, NEGLIGIBLE), glob] for i in range(50)]
    decisions = await limiter.hit_many(calls)
    # Pipelined in order: each of the 10 users gets 2, the global bucket caps at 30 before that.
    assert sum(d.allowed for d in decisions) == 20
    assert [d.allowed for d in decisions[:20]] == [True] * 20
    assert {d.limiting.name for d in decisions[20:]} == {"user"}
    assert await limiter.hit_many([]) == []


async def test_script_cache_miss_is_recovered(limiter: TokenBucketLimiter, ns: str) -> None:
    # Simulates SCRIPT FLUSH / a failover to a server that never saw the script, without
    # flushing the shared server's cache.
    only = [Bucket("user", ns + "user", 3, NEGLIGIBLE)]
    limiter._script.sha = "0" * 40
    assert (await limiter.hit(only)).remaining == 2
    limiter._script.sha = "0" * 40
    assert [d.remaining for d in await limiter.hit_many([only, only])] == [1, 0]


async def test_invalid_calls_are_rejected(limiter: TokenBucketLimiter, ns: str) -> None:
    user = Bucket("user", ns + "user", 3, 1.0)
    with pytest.raises(ValueError, match="could never pass"):
        await limiter.hit([user], cost=4)
    with pytest.raises(ValueError, match="duplicate"):
        await limiter.hit([user, Bucket("again", ns + "user", 3, 1.0)])
    with pytest.raises(ValueError, match="at least one"):
        await limiter.hit([])
    with pytest.raises(ValueError, match="cost"):
        await limiter.hit([user], cost=0)
    with pytest.raises(ValueError, match="per_second"):
        Bucket("user", "k", 3, 0.0)


def test_bucket_from_config() -> None:
    b = bucket("user", "rl:api:user:1", RateLimit.parse("X", "10/60s"))
    assert b == Bucket("user", "rl:api:user:1", 10, 10 / 60)
    assert b.window == pytest.approx(60)


def _client(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=0.3, socket_timeout=0.3, retry=Retry(NoBackoff(), 0))


async def test_redis_down_raises_unavailable(ns: str) -> None:
    client = _client("redis://127.0.0.1:1/0")
    only = [Bucket("user", ns + "user", 3, 1.0)]
    try:
        limiter = TokenBucketLimiter(client, "x:")
        with pytest.raises(RateLimiterUnavailable):
            await limiter.hit(only)
        with pytest.raises(RateLimiterUnavailable):
            await limiter.hit_many([only])
        # A coalesced batch fails as a whole: every call gets "no decision".
        results = await asyncio.gather(*(limiter.hit(only) for _ in range(4)), return_exceptions=True)
        assert all(isinstance(r, RateLimiterUnavailable) for r in results)
    finally:
        await client.aclose()


async def test_pool_exhaustion_raises_unavailable(redis_url: str, redis: Redis, redis_prefix: str, ns: str) -> None:
    # redis-py raises MaxConnectionsError (a ConnectionError) when its pool is full; that is
    # "no decision", like Redis being down. Size the limiter's pool for the expected concurrency.
    # (Without coalescing: coalesced, these five calls share one connection; see the test below.)
    client = Redis.from_url(redis_url, max_connections=1)
    limiter = TokenBucketLimiter(client, redis_prefix, coalesce=False)
    only = [Bucket("user", ns + "user", 10, 1.0)]
    try:
        results = await asyncio.gather(*(limiter.hit(only) for _ in range(5)), return_exceptions=True)
    finally:
        await client.aclose()
    assert any(isinstance(r, RateLimiterUnavailable) for r in results)
    assert any(isinstance(r, Decision) and r.allowed for r in results)


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A loopback TCP server that accepts connections and never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_redis_timeout_raises_unavailable(silent_server: int, ns: str) -> None:
    client = _client(f"redis://127.0.0.1:{silent_server}/0")
    only = [Bucket("user", ns + "user", 3, 1.0)]
    try:
        with pytest.raises(RateLimiterUnavailable):
            await TokenBucketLimiter(client, "x:").hit(only)
        limiter = TokenBucketLimiter(client, "x:")
        results = await asyncio.gather(*(limiter.hit(only) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, RateLimiterUnavailable) for r in results)
        assert limiter.round_trips == 1
    finally:
        await client.aclose()


# --- headers ---------------------------------------------------------------------------------------


def _decision(allowed: bool, remaining: int, retry_after: float, reset: float) -> Decision:
    user = Bucket("user", "u", 120, 2.0)
    org = Bucket("org", "o", 2000, 40.0)
    return Decision(allowed, user, remaining, retry_after, reset, (user, org))


def test_headers_when_allowed() -> None:
    headers = rate_limit_headers(_decision(True, 17, 0.0, 51.2))
    assert headers == {
        "RateLimit-Policy": '"user";q=120;w=60, "org";q=2000;w=50',
        "RateLimit": '"user";r=17;t=52',
    }


def test_headers_when_refused() -> None:
    headers = rate_limit_headers(_decision(False, 0, 2.01, 59.5))
    assert headers["RateLimit"] == '"user";r=0;t=60'
    assert headers["Retry-After"] == "3"
    assert rate_limit_headers(_decision(False, 0, 0.0004, 0.0004))["Retry-After"] == "1"


def test_headers_window_rounding_and_escaping() -> None:
    login = bucket('lo"gin\\', "k", RateLimit.parse("X", "5/60s"))  # per_second = 5/60 is inexact
    decision = Decision(True, login, 4, 0.0, 12.0000000001, (login,))
    headers = rate_limit_headers(decision)
    assert headers["RateLimit-Policy"] == '"lo\\"gin\\\\";q=5;w=60'
    assert headers["RateLimit"] == '"lo\\"gin\\\\";r=4;t=12'
