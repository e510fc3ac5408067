"""SAQ's listener for job-status messages, made safe across Redis outages.

SAQ reads job updates (``job.refresh(until_complete=...)``; its worker's sweep waits this way for each
stuck job it aborts) through one pattern subscription that a daemon task reads. SAQ's daemon shares one
``PubSub`` connection across restarts, stops without waiting for the old daemon to finish, and on an error
reads again at once (while Redis is down: hundreds of tracebacks a second). In CI (stop 31), after Redis was
SIGKILLed and restarted under ``lyceum up``, the worker never ran a job again and its log filled with one
traceback: "read() called while another coroutine is already waiting for incoming data", raised by a read
that fails before it suspends, so a loop that retries it at once never yields and starves the event loop
(no job, no heartbeat). Two daemons reading one connection is the one way to that error we know of.

Here each run of the daemon has a connection of its own, closed when the run ends; stopping waits for the
daemon to finish; and a failed read waits (backing off to a few seconds) and reconnects, so even an error
we have not foreseen costs a few log lines, not the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog
from saq.queue.redis import PubSubMultiplexer

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = structlog.get_logger("lyceum.jobs")

RECONNECT_BACKOFF_MAX = 5.0  # seconds between attempts while Redis stays unreachable


class JobUpdates(PubSubMultiplexer):
    """One pattern subscription to a queue's job-status channel, routed in-process to SAQ's listeners."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        super().__init__(redis.pubsub(), prefix)
        self._redis = redis
        self.reconnects = 0  # counted for tests and logs

    async def _start(self) -> None:
        backoff = 0.0
        while True:
            pubsub: PubSub = self._redis.pubsub()
            self.pubsub = pubsub
            try:
                await pubsub.psubscribe(f"{self.prefix}*")
                if backoff:
                    log.info("job_updates_reconnected", prefix=self.prefix)
                    backoff = 0.0
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message and message["type"] == "pmessage":
                        message["channel"] = message["channel"].decode("utf-8")
                        self.publish(message["channel"], message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failed read: wait, then a fresh connection
                if not backoff:  # once per outage
                    log.warning("job_updates_disconnected", prefix=self.prefix, error=f"{type(exc).__name__}: {exc}")
                self.reconnects += 1
                backoff = min(RECONNECT_BACKOFF_MAX, max(0.1, backoff * 2))
                await asyncio.sleep(backoff)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Stop the daemon and wait until it has: a daemon started after this returns never shares a
        connection, or the event loop, with one still winding down."""
        async with self._lock:
            task, self._daemon_task = self._daemon_task, None
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            self._subscriptions.clear()
            self._queues.clear()

    async def _close(self) -> None:
        """The daemon closes its own connection (``_start``'s ``finally``)."""
