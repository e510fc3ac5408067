"""Coalescing of concurrent Redis calls: the calls of concurrent requests go to Redis as one command.

redis-py spends ~50-100 us of Python per command (pool checkout, packing, the reply, the timeout), more than
Redis itself. On the request path the same few commands run for every request, so ``Coalescer`` sends them
together: the first call schedules a send at the end of the current event-loop tick, and while a batch is in
flight the calls that arrive wait for it and go together as the next batch (group commit), so a busy process
sends few, large batches instead of many small ones. A call waits at most for the batch in flight plus its
own; a lone call goes alone at once, as before.

``CoalescedReads`` joins key reads into one MGET: exactly what the separate reads would have returned (an
MGET is atomic, if anything a more consistent snapshot). The rate limiter joins its decisions into one
EVALSHA of a batch script (app/lib/ratelimit/limiter.py). A failure (Redis down, slow, the breaker open) is
raised to every call of the batch, as each one's own command would have raised it, so each caller keeps its
own fallback (the denylist asks PostgreSQL, the outline is rebuilt, the limiter fails open or closed). Use it
with the fail-fast client: its timeouts and circuit breaker apply to the batch.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis

CallT = TypeVar("CallT")
ResultT = TypeVar("ResultT")

MAX_KEYS = 512  # per MGET: a bigger batch is split, so no single reply grows without bound


class _Queue(Generic[CallT, ResultT]):
    """One event loop's waiting calls and whether a batch is scheduled or in flight."""

    def __init__(self) -> None:
        self.calls: list[tuple[CallT, asyncio.Future[ResultT]]] = []
        self.scheduled = False
        self.in_flight = 0


class Coalescer(Generic[CallT, ResultT]):
    """Runs ``_run(batch)`` for the calls gathered while the previous batch was in flight (or in this tick)."""

    def __init__(self) -> None:
        self._queues: dict[asyncio.AbstractEventLoop, _Queue[CallT, ResultT]] = {}
        self._sending: set[asyncio.Task[Any]] = set()  # held until done: the loop keeps only weak references
        self.round_trips = 0

    async def _call(self, call: CallT) -> ResultT:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[ResultT] = loop.create_future()
        queue.calls.append((call, future))
        if not queue.scheduled and not queue.in_flight:
            queue.scheduled = True
            loop.call_soon(self._flush, loop, queue)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop, queue: _Queue[CallT, ResultT]) -> None:
        queue.scheduled = False
        calls, queue.calls = queue.calls, []
        for batch in self._split(calls):
            queue.in_flight += 1
            task = loop.create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(functools.partial(self._sent, loop, queue, batch))
        if not queue.in_flight:
            self._queues.pop(loop, None)

    async def _send(self, batch: list[tuple[CallT, asyncio.Future[ResultT]]]) -> Sequence[ResultT]:
        self.round_trips += 1
        return await self._run([call for call, _ in batch])

    def _sent(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: _Queue[CallT, ResultT],
        batch: list[tuple[CallT, asyncio.Future[ResultT]]],
        task: asyncio.Task[Sequence[ResultT]],
    ) -> None:
        """The batch's outcome to its callers, then the next batch. A done callback rather than the send's own
        ``finally``: a send cancelled before it first ran (the loop shutting down cancels every task at once)
        never runs its body, and its callers, some shielded from that cancellation (a tutor turn recording
        itself), would wait forever, with the queue stuck "in flight"."""
        self._sending.discard(task)
        pending = [future for _, future in batch if not future.done()]
        if task.cancelled():
            for future in pending:
                future.cancel()
        elif (exc := task.exception()) is not None:  # every call fails as its own command would have
            for future in pending:
                future.set_exception(exc)
        else:
            for (_, future), result in zip(batch, task.result(), strict=True):
                if not future.done():  # a cancelled caller's command ran anyway, as one in flight does
                    future.set_result(result)
        queue.in_flight -= 1
        if not queue.in_flight:
            if queue.calls:  # what arrived meanwhile goes now, as one batch
                self._flush(loop, queue)
            else:
                self._queues.pop(loop, None)

    def _split(
        self, calls: list[tuple[CallT, asyncio.Future[ResultT]]]
    ) -> list[list[tuple[CallT, asyncio.Future[ResultT]]]]:
        return [calls] if calls else []

    async def _run(self, calls: Sequence[CallT]) -> Sequence[ResultT]:
        raise NotImplementedError


class CoalescedReads(Coalescer[tuple[str, ...], list[bytes | None]]):
    def __init__(self, redis: Redis) -> None:
        super().__init__()
        self._redis = redis

    async def mget(self, *keys: str) -> list[bytes | None]:
        """The values of ``keys`` (None where missing), read together with the concurrent reads."""
        return await self._call(keys)

    def _split(
        self, calls: list[tuple[tuple[str, ...], asyncio.Future[list[bytes | None]]]]
    ) -> list[list[tuple[tuple[str, ...], asyncio.Future[list[bytes | None]]]]]:
        batches: list[list[Any]] = []
        size = MAX_KEYS
        for call in calls:
            if size + len(call[0]) > MAX_KEYS:
                batches.append([])
                size = 0
            batches[-1].append(call)
            size += len(call[0])
        return batches

    async def _run(self, calls: Sequence[tuple[str, ...]]) -> list[list[bytes | None]]:
        keys = [key for call_keys in calls for key in call_keys]
        values: list[bytes | None] = await self._redis.mget(keys)  # type: ignore[assignment]
        out, start = [], 0
        for call_keys in calls:
            out.append(values[start : start + len(call_keys)])
            start += len(call_keys)
        return out


_readers: weakref.WeakKeyDictionary[Redis, CoalescedReads] = weakref.WeakKeyDictionary()


def coalesced(redis: Redis) -> CoalescedReads:
    """The coalescing reader of this client (one per client, so every concurrent caller shares it)."""
    reader = _readers.get(redis)
    if reader is None:
        reader = _readers[redis] = CoalescedReads(redis)
    return reader
