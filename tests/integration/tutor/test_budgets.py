"""Token budgets against real Redis: caps, refusals, settlement, concurrency, crashed holds, periods, outages."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain.tutor.budgets import (
    PERIOD_SLACK_SECONDS,
    SESSION_TTL_SECONDS,
    BudgetExhausted,
    BudgetLimits,
    BudgetScope,
    BudgetUnavailable,
    Reservation,
    ScopeName,
    TokenBudget,
    budget_scopes,
)
from app.lib.redis import BREAKER_COOLDOWN_SECONDS, create_redis


def scope(limit: int, name: ScopeName = "session", resets_at: datetime | None = None) -> BudgetScope:
    # A fresh key per scope, so tests never see each other's usage.
    return BudgetScope(name, f"budget:test:{name}:{uuid.uuid4().hex}", limit, resets_at)


@pytest.fixture
async def limiter_redis(redis_url: str) -> AsyncIterator[Redis]:
    # The client production uses: no retries, so a retried EVALSHA can never reserve twice.
    client = create_redis(redis_url, role="limiter")
    yield client
    await client.aclose()


@pytest.fixture
def budget(limiter_redis: Redis, redis_prefix: str) -> TokenBudget:
    return TokenBudget(limiter_redis, redis_prefix)


async def keys_of(redis: Redis, prefix: str, *scopes: BudgetScope) -> list[str]:
    found: list[str] = []
    for s in scopes:
        for key in (prefix + s.key, prefix + s.key + ":holds"):
            if await redis.exists(key):
                found.append(key)
    return found


# --- reserve ---------------------------------------------------------------------------------------------


async def test_reserve_grants_the_full_request_when_there_is_room(budget: TokenBudget) -> None:
    s = scope(10_000)
    reservation = await budget.reserve([s], input_tokens=300, max_output_tokens=1000)
    assert (reservation.max_tokens, reservation.reserved, reservation.remaining) == (1000, 1300, 8700)
    assert reservation.scopes == (s,)
    assert await budget.usage([s]) == {"session": (0, 1300)}


async def test_reserve_caps_max_tokens_by_the_tightest_scope(budget: TokenBudget) -> None:
    loose, tight = scope(10_000, "org"), scope(1000, "user")
    reservation = await budget.reserve([loose, tight], input_tokens=300, max_output_tokens=5000)
    assert reservation.max_tokens == 700  # 1000 - 300 input
    assert reservation.reserved == 1000
    assert reservation.remaining == 0
    # The hold is in every scope, not only the tight one.
    assert await budget.usage([loose, tight]) == {"org": (0, 1000), "user": (0, 1000)}


async def test_exhausted_names_the_tightest_scope_and_writes_nothing(
    budget: TokenBudget, limiter_redis: Redis, redis_prefix: str
) -> None:
    now = datetime.now(UTC)
    org, course, user, session = budget_scopes(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), BudgetLimits(100_000, 50_000, 150, 20_000), now
    )
    with pytest.raises(BudgetExhausted) as refused:
        await budget.reserve([org, course, user, session], input_tokens=100, max_output_tokens=500)
    assert refused.value.scope == user
    assert refused.value.remaining == 150
    assert refused.value.resets_at == user.resets_at
    assert refused.value.resets_at == (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert await keys_of(limiter_redis, redis_prefix, org, course, user, session) == []
    assert await budget.usage([org, user]) == {"org": (0, 0), "user": (0, 0)}


async def test_refusal_after_earlier_use_leaves_counters_untouched(budget: TokenBudget) -> None:
    loose, tight = scope(10_000, "org"), scope(1000, "session")
    first = await budget.reserve([loose, tight], input_tokens=300, max_output_tokens=5000)
    with pytest.raises(BudgetExhausted) as refused:
        await budget.reserve([loose, tight], input_tokens=10, max_output_tokens=100)
    assert refused.value.scope == tight
    assert refused.value.remaining == 0
    assert refused.value.resets_at is None  # a session never resets
    assert await budget.usage([loose, tight]) == {"org": (0, 1000), "session": (0, 1000)}
    await budget.settle(first, 300, 200)
    assert await budget.usage([loose, tight]) == {"org": (500, 0), "session": (500, 0)}


async def test_min_output_tokens_decides_whether_a_reply_is_worth_starting(budget: TokenBudget) -> None:
    s = scope(1000)
    await budget.settle(await budget.reserve([s], 836, 100, min_output_tokens=0), 836, 0)  # used 836: 164 left
    with pytest.raises(BudgetExhausted) as refused:
        await budget.reserve([s], input_tokens=101, max_output_tokens=500)  # 101 + 64 > 164
    assert refused.value.remaining == 164
    exact = await budget.reserve([s], input_tokens=100, max_output_tokens=500)  # 100 + 64 == 164
    assert (exact.max_tokens, exact.reserved, exact.remaining) == (64, 164, 0)
    await budget.release(exact)
    # A minimum above the maximum is capped at it: a 10-token reply fits in 110.
    small = await budget.reserve([s], input_tokens=100, max_output_tokens=10, min_output_tokens=64)
    assert small.max_tokens == 10


async def test_reserve_rejects_nonsense(budget: TokenBudget) -> None:
    s = scope(1000)
    with pytest.raises(ValueError, match="at least one"):
        await budget.reserve([], 10, 10)
    with pytest.raises(ValueError, match="duplicate"):
        await budget.reserve([s, s], 10, 10)
    with pytest.raises(ValueError, match="input_tokens"):
        await budget.reserve([s], -1, 10)
    with pytest.raises(ValueError, match="max_output_tokens"):
        await budget.reserve([s], 10, 0)


# --- settle / release ------------------------------------------------------------------------------------


async def test_settle_charges_actual_usage_and_frees_the_rest(budget: TokenBudget) -> None:
    org, session = scope(50_000, "org"), scope(5000, "session")
    reservation = await budget.reserve([org, session], input_tokens=100, max_output_tokens=1000)
    assert await budget.usage([org, session]) == {"org": (0, 1100), "session": (0, 1100)}
    assert await budget.settle(reservation, 100, 250) == 5000 - 350
    assert await budget.usage([org, session]) == {"org": (350, 0), "session": (350, 0)}


async def test_settle_and_release_are_idempotent(budget: TokenBudget) -> None:
    s = scope(5000)
    reservation = await budget.reserve([s], input_tokens=100, max_output_tokens=1000)
    assert await budget.settle(reservation, 100, 250) == 4650
    assert await budget.settle(reservation, 100, 250) == 4650  # no second charge
    await budget.release(reservation)  # too late to release: still charged once
    assert await budget.usage([s]) == {"session": (350, 0)}

    other = await budget.reserve([s], input_tokens=50, max_output_tokens=100)
    await budget.release(other)
    await budget.release(other)
    assert await budget.settle(other, 50, 100) == 4650  # released first: settling afterwards charges nothing
    assert await budget.usage([s]) == {"session": (350, 0)}


async def test_settle_of_an_unknown_reservation_changes_nothing(budget: TokenBudget) -> None:
    s = scope(5000)
    held = await budget.reserve([s], input_tokens=100, max_output_tokens=100)
    forged = Reservation(id=uuid.uuid4().hex, scopes=(s,), reserved=200, max_tokens=100, remaining=4800)
    assert await budget.settle(forged, 100, 100) == 4800
    assert await budget.usage([s]) == {"session": (0, 200)}
    await budget.release(held)


# --- concurrency -----------------------------------------------------------------------------------------


async def warm_pool(redis: Redis, connections: int, deadline_s: float = 60.0) -> None:
    """Open ``connections`` pooled connections before a burst: this test is about the Lua scripts' atomicity,
    and on a saturated machine 50 connections opened at once can miss the limiter client's deliberately short
    connect timeout (that fail-fast is the product's policy, tested elsewhere)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            await asyncio.gather(*(redis.ping() for _ in range(connections)))
            return
        except RedisError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(BREAKER_COOLDOWN_SECONDS)  # a failed warm-up may have opened the breaker


async def test_concurrent_messages_never_overspend(budget: TokenBudget, limiter_redis: Redis) -> None:
    await warm_pool(limiter_redis, 50)
    limit = 5000
    s = scope(limit)
    rng = random.Random(20261122)
    # What this process knows is committed: holds it was granted and has not started to settle, plus
    # the real usage of those it settled. Redis has granted at least this much, so it must stay <= limit.
    in_flight = 0
    spent = 0
    peak = 0
    outcomes = {"settled": 0, "released": 0, "refused": 0}
    refused_scopes: set[BudgetScope] = set()

    async def message(index: int) -> None:
        nonlocal in_flight, spent, peak
        # Spread over ~50 ms with ~10 ms streams: reserves race each other and interleave with settles.
        await asyncio.sleep(index / 1000 + rng.random() / 200)
        try:
            reservation = await budget.reserve([s], input_tokens=100, max_output_tokens=500)
        except BudgetExhausted as exc:
            refused_scopes.add(exc.scope)
            outcomes["refused"] += 1
            return
        assert reservation.max_tokens <= 500
        assert reservation.remaining >= 0
        in_flight += reservation.reserved
        peak = max(peak, in_flight + spent)
        assert in_flight + spent <= limit
        await asyncio.sleep(rng.random() / 100)  # the "stream"
        in_flight -= reservation.reserved
        if index % 5 == 0:  # a fifth fail before any token and release
            outcomes["released"] += 1
            await budget.release(reservation)
        else:
            actual = rng.randint(0, reservation.max_tokens)
            spent += 100 + actual
            outcomes["settled"] += 1
            await budget.settle(reservation, 100, actual)

    await asyncio.gather(*(message(index) for index in range(50)))
    used, reserved = (await budget.usage([s]))[s.name]
    assert used == spent  # every settle counted exactly once
    assert reserved == 0  # every hold returned
    assert used <= limit + 500  # the loose bound: at most one message's max_tokens over
    assert used <= limit  # the real guarantee: never over
    assert peak <= limit
    assert outcomes["settled"] > 0
    assert outcomes["released"] > 0
    assert outcomes["refused"] > 0
    assert refused_scopes == {s}


# --- crashed holders -------------------------------------------------------------------------------------


async def test_a_crashed_holders_reservation_expires(limiter_redis: Redis, redis_prefix: str) -> None:
    budget = TokenBudget(limiter_redis, redis_prefix, hold_seconds=0.2)
    s = scope(1000)
    lost = await budget.reserve([s], input_tokens=500, max_output_tokens=500)  # never settled: the process "died"
    with pytest.raises(BudgetExhausted):
        await budget.reserve([s], input_tokens=100, max_output_tokens=100)
    await asyncio.sleep(0.3)
    assert await budget.usage([s]) == {"session": (0, 0)}  # usage already discounts the expired hold
    again = await budget.reserve([s], input_tokens=100, max_output_tokens=100)
    assert (again.max_tokens, again.remaining) == (100, 800)
    assert await budget.usage([s]) == {"session": (0, 200)}
    # The "dead" process was only slow: its settle still charges what it used, but does not free the
    # hold a second time (that hold was already given back).
    assert await budget.settle(lost, 500, 100) == 200
    assert await budget.usage([s]) == {"session": (600, 200)}
    await budget.release(again)
    assert await budget.usage([s]) == {"session": (600, 0)}


async def test_expired_holds_are_returned_in_every_scope(limiter_redis: Redis, redis_prefix: str) -> None:
    budget = TokenBudget(limiter_redis, redis_prefix, hold_seconds=0.15)
    org, user = scope(10_000, "org"), scope(1000, "user")
    await budget.reserve([org, user], input_tokens=400, max_output_tokens=600)
    await asyncio.sleep(0.25)
    # A later message touching only the org scope returns the org's share of the dead hold...
    await budget.release(await budget.reserve([org], input_tokens=1, max_output_tokens=1))
    assert (await budget.usage([org]))["org"] == (0, 0)
    # ...and the user scope gets its share back on its own next call.
    assert (await budget.reserve([user], input_tokens=100, max_output_tokens=2000)).max_tokens == 900


# --- periods ---------------------------------------------------------------------------------------------


def test_period_keys_and_reset_times() -> None:
    org, course, user, session = (uuid.uuid4() for _ in range(4))
    limits = BudgetLimits(1, 2, 3, 4)
    mid = budget_scopes(org, course, user, session, limits, now=datetime(2026, 11, 14, 9, 5, tzinfo=UTC))
    assert [s.name for s in mid] == ["org", "course", "user", "session"]
    assert [s.limit for s in mid] == [1, 2, 3, 4]
    assert mid[0].key == f"budget:org:{org}:2026-11"
    assert mid[1].key == f"budget:course:{org}:{course}:2026-11"
    assert mid[2].key == f"budget:user:{user}:2026-11-14"
    assert mid[3].key == f"budget:session:{session}"
    assert mid[0].resets_at == mid[1].resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert mid[2].resets_at == datetime(2026, 11, 15, tzinfo=UTC)
    assert mid[3].resets_at is None

    year_end = budget_scopes(org, course, user, session, limits, now=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert year_end[0].key.endswith(":2026-12")
    assert year_end[2].key.endswith(":2026-12-31")
    assert year_end[0].resets_at == year_end[2].resets_at == datetime(2027, 1, 1, tzinfo=UTC)

    leap = budget_scopes(org, course, user, session, limits, now=datetime(2028, 2, 29, 12, tzinfo=UTC))
    assert leap[0].resets_at == datetime(2028, 3, 1, tzinfo=UTC)
    assert leap[2].resets_at == datetime(2028, 3, 1, tzinfo=UTC)


def test_periods_are_utc_whatever_the_callers_timezone() -> None:
    # 23:30 on Jan 31 in New York is already Feb 1 in UTC.
    new_york = datetime(2027, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    org, _, user, _ = budget_scopes(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), BudgetLimits(1, 1, 1, 1), now=new_york
    )
    assert org.key.endswith(":2027-02")
    assert user.key.endswith(":2027-02-01")
    assert org.resets_at == datetime(2027, 3, 1, tzinfo=UTC)
    assert user.resets_at == datetime(2027, 2, 2, tzinfo=UTC)


async def test_keys_expire_after_their_period(budget: TokenBudget, limiter_redis: Redis, redis_prefix: str) -> None:
    now = datetime.now(UTC)
    org, course, user, session = budget_scopes(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), BudgetLimits(10**6, 10**6, 10**5, 10**5), now
    )
    reservation = await budget.reserve([org, course, user, session], input_tokens=10, max_output_tokens=10)
    for s in (org, course, user):
        assert s.resets_at is not None
        expected = (s.resets_at - now).total_seconds() + PERIOD_SLACK_SECONDS
        for key in (redis_prefix + s.key, redis_prefix + s.key + ":holds"):
            assert expected - 5 <= await limiter_redis.ttl(key) <= expected + 1
    assert SESSION_TTL_SECONDS - 5 <= await limiter_redis.ttl(redis_prefix + session.key) <= SESSION_TTL_SECONDS
    record_ttl = await limiter_redis.pttl(f"{redis_prefix}budget:reservation:{reservation.id}")
    assert 0 < record_ttl <= (600 + 24 * 3600) * 1000
    await budget.settle(reservation, 10, 5)
    # Settling may recreate an expired key: it must still carry a TTL.
    assert await limiter_redis.ttl(redis_prefix + session.key) > 0


# --- outages ---------------------------------------------------------------------------------------------


async def test_redis_down_is_unavailable() -> None:
    dead = create_redis("redis://127.0.0.1:1/0", role="limiter")
    budget = TokenBudget(dead, "x:")
    s = scope(10)
    reservation = Reservation(id=uuid.uuid4().hex, scopes=(s,), reserved=2, max_tokens=1, remaining=8)
    with pytest.raises(BudgetUnavailable):
        await budget.reserve([s], 1, 1, 1)
    with pytest.raises(BudgetUnavailable):
        await budget.settle(reservation, 1, 1)
    with pytest.raises(BudgetUnavailable):
        await budget.release(reservation)
    with pytest.raises(BudgetUnavailable):
        await budget.usage([s])
    await dead.aclose()
