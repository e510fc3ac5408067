"""Token budgets against real Redis: caps, refusals, settlement, concurrency, crashed holds, periods."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from app.domain.tutor.budgets import (
    BudgetExhausted,
    BudgetLimits,
    BudgetScope,
    BudgetUnavailable,
    TokenBudget,
    budget_scopes,
)
from app.lib.redis import create_redis


def scope(limit: int, name: str = "session") -> BudgetScope:
    return BudgetScope(name, f"budget:test:{uuid.uuid4().hex}", limit, None)  # type: ignore[arg-type]


@pytest.fixture
def budget(redis: Redis, redis_prefix: str) -> TokenBudget:
    return TokenBudget(redis, redis_prefix)


async def test_reserve_caps_max_tokens_by_what_remains(budget: TokenBudget) -> None:
    tight, loose = scope(1000), scope(10_000)
    reservation = await budget.reserve([loose, tight], input_tokens=300, max_output_tokens=5000)
    assert reservation.max_tokens == 700
    assert reservation.reserved == 1000
    assert reservation.remaining == 0
    with pytest.raises(BudgetExhausted) as refused:
        await budget.reserve([loose, tight], input_tokens=10, max_output_tokens=100)
    assert refused.value.scope == tight
    usage = await budget.usage([loose, tight])
    assert usage[tight.name] == (0, 1000)  # the refusal wrote nothing


async def test_settle_charges_actual_usage_once(budget: TokenBudget) -> None:
    s = scope(5000)
    reservation = await budget.reserve([s], input_tokens=100, max_output_tokens=1000)
    remaining = await budget.settle(reservation, 100, 250)
    assert remaining == 5000 - 350
    assert await budget.settle(reservation, 100, 250) == 5000 - 350  # idempotent
    assert (await budget.usage([s]))[s.name] == (350, 0)
    other = await budget.reserve([s], input_tokens=50, max_output_tokens=100)
    await budget.release(other)
    await budget.release(other)
    assert (await budget.usage([s]))[s.name] == (350, 0)


async def test_concurrent_messages_never_overspend(redis_url: str, redis_prefix: str) -> None:
    client = create_redis(redis_url, role="limiter")
    budget = TokenBudget(client, redis_prefix)
    s = scope(5000)
    rng = random.Random(7)
    granted_in_flight: list[int] = []
    held = 0

    async def message() -> None:
        nonlocal held
        try:
            reservation = await budget.reserve([s], input_tokens=100, max_output_tokens=500)
        except BudgetExhausted:
            return
        held += reservation.reserved
        granted_in_flight.append(held)
        await asyncio.sleep(rng.random() / 100)
        if rng.random() < 0.2:
            await budget.release(reservation)
        else:
            await budget.settle(reservation, 100, rng.randint(0, reservation.max_tokens))
        held -= reservation.reserved

    await asyncio.gather(*(message() for _ in range(50)))
    used, reserved = (await budget.usage([s]))[s.name]
    assert used <= 5000
    assert reserved == 0
    assert max(granted_in_flight) <= 5000
    await client.aclose()


async def test_a_crashed_holders_reservation_expires(redis: Redis, redis_prefix: str) -> None:
    budget = TokenBudget(redis, redis_prefix, hold_seconds=0.2)
    s = scope(1000)
    await budget.reserve([s], input_tokens=500, max_output_tokens=500)  # never settled: the process "died"
    with pytest.raises(BudgetExhausted):
        await budget.reserve([s], input_tokens=100, max_output_tokens=100)
    await asyncio.sleep(0.35)
    again = await budget.reserve([s], input_tokens=100, max_output_tokens=100)
    assert again.max_tokens == 100


def test_period_keys_and_reset_times() -> None:
    now = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    org, course, user, session = (uuid.uuid4() for _ in range(4))
    scopes = budget_scopes(org, course, user, session, BudgetLimits(1, 2, 3, 4), now=now)
    assert [s.name for s in scopes] == ["org", "course", "user", "session"]
    assert scopes[0].key.endswith(":2026-12")
    assert scopes[0].resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert scopes[2].key.endswith(":2026-12-31")
    assert scopes[2].resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert scopes[3].resets_at is None
    assert [s.limit for s in scopes] == [1, 2, 3, 4]


async def test_redis_down_is_unavailable() -> None:
    dead = create_redis("redis://127.0.0.1:1/0", role="limiter")
    with pytest.raises(BudgetUnavailable):
        await TokenBudget(dead, "x:").reserve([scope(10)], 1, 1, 1)
    await dead.aclose()
