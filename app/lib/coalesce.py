"""Redis reads coalesced per event-loop tick: the GETs of concurrent requests go to Redis as one MGET.

redis-py spends ~50-100 us of Python per command (pool checkout, packing, the reply, the timeout), more than
Redis itself. The hottest reads of a request (the token's revocation state, the course outline) are plain
key reads, so the ones made in the same turn of the event loop are sent together: the first caller of a tick
schedules the send for the end of the tick, the others add their keys, and each gets back the values of its
own keys. A read is a read: one MGET returns exactly what the separate ones would have (an MGET is atomic,
so if anything a more consistent snapshot). A lone caller's MGET is the one it would have sent anyway.

A failure (Redis down, slow, the breaker open) is raised to every caller of the batch, as each one's own
command would have raised it, so each keeps its own fallback (the denylist asks PostgreSQL, the outline is
rebuilt). Use it with the fail-fast client: its timeouts and circuit breaker apply to the batch.
"""

from __future__ import annotations

import asyncio
import weakref

from redis.asyncio import Redis

MAX_KEYS = 512  # per MGET: a bigger tick is split, so no single reply grows without bound

_Pending = tuple[tuple[str, ...], "asyncio.Future[list[bytes | None]]"]


class CoalescedReads:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pending: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        self._sending: set[asyncio.Task[None]] = set()  # held until done: the loop keeps only weak references
        self.round_trips = 0

    async def mget(self, *keys: str) -> list[bytes | None]:
        """The values of ``keys`` (None where missing), read with the other reads of this tick."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bytes | None]] = loop.create_future()
        pending = self._pending.setdefault(loop, [])
        pending.append((keys, future))
        if len(pending) == 1:
            loop.call_soon(self._flush, loop)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._pending.pop(loop, [])
        batch: list[_Pending] = []
        size = 0
        for call in pending:
            if batch and size + len(call[0]) > MAX_KEYS:
                self._start(loop, batch)
                batch, size = [], 0
            batch.append(call)
            size += len(call[0])
        if batch:
            self._start(loop, batch)

    def _start(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        task = loop.create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Pending]) -> None:
        self.round_trips += 1
        keys = [key for call_keys, _ in batch for key in call_keys]
        try:
            values: list[bytes | None] = await self._redis.mget(keys)  # type: ignore[assignment]
        except Exception as exc:  # every caller fails as its own command would have
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for call_keys, future in batch:
            if not future.done():
                future.set_result(values[start : start + len(call_keys)])
            start += len(call_keys)


_readers: weakref.WeakKeyDictionary[Redis, CoalescedReads] = weakref.WeakKeyDictionary()


def coalesced(redis: Redis) -> CoalescedReads:
    """The coalescing reader of this client (one per client, so every caller of a tick shares it)."""
    reader = _readers.get(redis)
    if reader is None:
        reader = _readers[redis] = CoalescedReads(redis)
    return reader
