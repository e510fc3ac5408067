"""Redis killed while the worker listens for job updates (SAQ's sweep waits this way for each job it aborts).

CI, stop 31: after Redis was SIGKILLed and restarted under ``lyceum up``, SAQ's job-update daemon retried a
failing read at once, never suspended, and starved the worker's event loop: no job ran again. These drills
run the queue's listener (app/lib/job_updates.py) through a Redis outage on a Redis of their own and check
that the event loop keeps turning, that the listener waits between attempts instead of spinning, and that
updates reach a listener again once Redis is back. Nothing here is timed: the counts bound attempts per
outage, whatever the machine's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from saq import Job, Status

from app.lib.job_updates import RECONNECT_BACKOFF_MAX, JobUpdates
from app.lib.jobs import LyceumQueue
from tests.support.chaos import DEADLINE_SECONDS, ChaosRedis

pytestmark = pytest.mark.slow


class LoopPulse:
    """Counts turns of the event loop: a starved loop stops counting."""

    def __init__(self) -> None:
        self.beats = 0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            self.beats += 1
            await asyncio.sleep(0.01)

    def __enter__(self) -> LoopPulse:
        self._task = asyncio.create_task(self._beat())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Poll ``condition`` (plain or async) until it holds; the deadline only bounds a failing drill."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        held = condition()
        if held if isinstance(held, bool) else await held:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def queue(chaos_redis: ChaosRedis) -> AsyncIterator[LyceumQueue]:
    if not chaos_redis.alive():
        chaos_redis.start()
    q = LyceumQueue.from_url(chaos_redis.url, name="job-updates-drill")
    assert isinstance(q, LyceumQueue)
    yield q
    with contextlib.suppress(Exception):
        await q.disconnect()


def subscribed(url: str) -> Callable[[], Awaitable[bool]]:
    """Whether Redis counts a pattern subscription (the daemon's) on this server."""

    async def check() -> bool:
        admin = Redis.from_url(url)
        try:
            return int(await admin.execute_command("PUBSUB", "NUMPAT")) >= 1
        finally:
            await admin.aclose()

    return check


async def test_listening_through_a_redis_kill_neither_spins_nor_starves_and_resumes(
    queue: LyceumQueue, chaos_redis: ChaosRedis
) -> None:
    updates = queue._pubsub
    assert isinstance(updates, JobUpdates)
    job = Job("drill_task", key="drill-1", queue=queue)
    seen: list[Status] = []

    async def record(_key: str, status: Status) -> bool:
        seen.append(status)
        return status == Status.COMPLETE

    with LoopPulse() as pulse:
        listener = asyncio.create_task(queue.listen([job.key], record, timeout=None))
        await until(lambda: updates._daemon_task is not None, "the job-update daemon to start")
        await until(subscribed(chaos_redis.url), "the daemon's pattern subscription")

        chaos_redis.kill()
        await until(lambda: updates.reconnects >= 1, "the daemon to notice Redis is gone")
        # Redis stays down for a few backoff rounds: the daemon waits between attempts.
        beats_before = pulse.beats
        await asyncio.sleep(RECONNECT_BACKOFF_MAX)
        attempts_in_outage = updates.reconnects
        assert pulse.beats > beats_before, "the event loop starved while Redis was down"
        # Backing off from 0.1 s doubles to 5 s: a few attempts in a ~5 s outage, never hundreds.
        assert attempts_in_outage <= 8, attempts_in_outage

        chaos_redis.start()
        await until(subscribed(chaos_redis.url), "the daemon to subscribe again on a fresh connection")

        job.status = Status.COMPLETE
        await queue.notify(job)
        await asyncio.wait_for(listener, DEADLINE_SECONDS)
        assert seen == [Status.COMPLETE]
        assert pulse.beats > beats_before


async def test_a_listener_started_right_after_one_stopped_reads_a_connection_of_its_own(
    queue: LyceumQueue, chaos_redis: ChaosRedis
) -> None:
    """SAQ's stop cancelled its daemon without waiting, so the next daemon could read the same connection as
    the old one ("read() called while another coroutine is already waiting"): the stop now waits."""
    updates = queue._pubsub
    assert isinstance(updates, JobUpdates)
    with LoopPulse() as pulse:
        for n in range(5):
            channel = f"{updates.prefix}:drill-{n}"
            first = await updates.subscribe(channel)
            old_task = updates._daemon_task
            await until(subscribed(chaos_redis.url), "the first daemon's subscription")
            await updates.unsubscribe(first)  # the last listener gone: the daemon stops, and has stopped
            assert old_task is not None
            assert old_task.done()
            second = await updates.subscribe(channel)
            assert updates._daemon_task is not old_task
            await until(subscribed(chaos_redis.url), "the second daemon's subscription")
            await queue.redis.publish(channel, b"complete")
            message = await asyncio.wait_for(second.get(), DEADLINE_SECONDS)
            assert (message["channel"], message["data"]) == (channel, b"complete")
            await updates.unsubscribe(second)
        assert pulse.beats > 0
