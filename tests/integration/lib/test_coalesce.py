"""Redis reads coalesced per event-loop tick (app/lib/coalesce.py), against a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.lib import coalesce
from app.lib.coalesce import MAX_KEYS, CoalescedReads, coalesced
from app.lib.redis import create_redis


async def test_concurrent_reads_share_one_mget(redis: Redis, redis_prefix: str) -> None:
    ns = f"{redis_prefix}coalesce:{uuid.uuid4().hex}:"
    await redis.set(ns + "a", b"1")
    await redis.set(ns + "b", b"2")
    reader = CoalescedReads(redis)
    results = await asyncio.gather(
        reader.mget(ns + "a"),
        reader.mget(ns + "b", ns + "missing"),
        reader.mget(ns + "missing", ns + "a", ns + "b"),
        reader.mget(ns + "a"),
    )
    assert results == [[b"1"], [b"2", None], [None, b"1", b"2"], [b"1"]]
    assert reader.round_trips == 1
    # Sequential reads each go alone, and see writes made in between.
    await redis.set(ns + "a", b"3")
    assert await reader.mget(ns + "a") == [b"3"]
    assert reader.round_trips == 2


async def test_a_large_tick_is_split(redis: Redis, redis_prefix: str) -> None:
    ns = f"{redis_prefix}coalesce:{uuid.uuid4().hex}:"
    reader = CoalescedReads(redis)
    calls = [(ns + f"k{i}", ns + f"j{i}") for i in range(MAX_KEYS // 2 + 3)]
    results = await asyncio.gather(*(reader.mget(*keys) for keys in calls))
    assert results == [[None, None]] * len(calls)
    assert reader.round_trips == 2


async def test_every_caller_of_a_failed_batch_gets_the_error() -> None:
    client = create_redis("redis://127.0.0.1:1/0", role="limiter")  # nothing listens there
    try:
        reader = coalesced(client)
        results = await asyncio.gather(*(reader.mget(f"k{i}") for i in range(3)), return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError | OSError) for r in results), results
        assert reader.round_trips == 1
    finally:
        await client.aclose()


async def test_one_reader_per_client(redis: Redis) -> None:
    assert coalesced(redis) is coalesced(redis)
    other = Redis()
    assert coalesced(other) is not coalesced(redis)
    await other.aclose()
    del other
    assert all(isinstance(k, Redis) for k in coalesce._readers)


@pytest.mark.parametrize("cancelled", [0, 1])
async def test_a_cancelled_caller_does_not_break_the_batch(redis: Redis, redis_prefix: str, cancelled: int) -> None:
    ns = f"{redis_prefix}coalesce:{uuid.uuid4().hex}:"
    await redis.set(ns + "x", b"v")
    reader = CoalescedReads(redis)
    tasks = [asyncio.ensure_future(reader.mget(ns + "x")) for _ in range(3)]
    await asyncio.sleep(0)  # all three joined the tick's batch
    tasks[cancelled].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[cancelled], asyncio.CancelledError)
    assert [d for i, d in enumerate(done) if i != cancelled] == [[b"v"], [b"v"]]


async def test_calls_during_a_batch_in_flight_go_as_the_next_batch(redis: Redis, redis_prefix: str) -> None:
    ns = f"{redis_prefix}coalesce:{uuid.uuid4().hex}:"
    await redis.set(ns + "x", b"v")
    started = asyncio.Event()

    class Watched(CoalescedReads):
        async def _run(self, calls: Sequence[tuple[str, ...]]) -> list[list[bytes | None]]:
            started.set()
            return await super()._run(calls)

    reader = Watched(redis)
    first = asyncio.ensure_future(reader.mget(ns + "x"))
    await started.wait()  # the first MGET is on its way: what follows waits for it
    later = await asyncio.gather(*(reader.mget(ns + "x", ns + f"none{i}") for i in range(5)))
    assert await first == [b"v"]
    assert later == [[b"v", None]] * 5
    assert reader.round_trips == 2


class _NeverAnswers(coalesce.Coalescer[str, str]):
    """A backend that never answers: the send stays in flight until it is cancelled."""

    async def _run(self, calls: Sequence[str]) -> Sequence[str]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_cancelled_send_releases_its_callers_even_shielded_ones() -> None:
    """When the loop shuts down it cancels every task at once, the batch's send included. A caller that is
    shielded from that cancellation (a tutor turn recording itself) must not wait forever for the batch:
    that hung the test session's teardown."""
    coalescer = _NeverAnswers()
    for started in (False, True):  # cancelled before its first step, and while awaiting the backend
        caller = asyncio.ensure_future(asyncio.shield(coalescer._call("x")))
        for _ in range(20):  # the call runs, then its flush (call_soon) creates the send
            if coalescer._sending:
                break
            await asyncio.sleep(0)
        assert coalescer._sending, "the batch is in flight"
        if started:
            for _ in range(3):
                await asyncio.sleep(0)  # the send runs up to the backend's wait
        for send in list(coalescer._sending):
            send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, 10)  # bounds a failing run only
    assert not coalescer._queues  # nothing stuck "in flight": the next call sends at once
