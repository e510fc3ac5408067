"""The relay's wake-up after commit: the worker LISTENs on the outbox's channel, and each notification
(sent by PostgreSQL only when the transaction that wrote an event commits) runs the relay at once.

Notifications that arrive while a relay pass runs set the flag again, so one more pass follows: none is
lost. If the listening connection drops, the ``webhooks_relay`` cron (every heartbeat) still relays
everything, a little later, and the listener reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from saq import Queue

from app.config import Settings
from app.db.engine import Database, app_url
from app.domain.webhooks.delivery import relay
from app.domain.webhooks.outbox import NOTIFY_CHANNEL

log = structlog.get_logger("lyceum.webhooks")


class RelayWakeup:
    def __init__(self, db: Database, queue: Queue, settings: Settings) -> None:
        self.db, self.queue, self.settings = db, queue, settings
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._relay_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        dsn = app_url(self.settings).set(drivername="postgresql").render_as_string(hide_password=False)
        backoff = 1.0
        while True:
            connection: asyncpg.Connection | None = None
            try:
                closed = asyncio.Event()
                connection = await asyncpg.connect(dsn, timeout=5)
                connection.add_termination_listener(lambda *_, done=closed: done.set())
                await connection.add_listener(NOTIFY_CHANNEL, self._notified)
                backoff = 1.0
                self._wake.set()  # catch up on whatever committed while nobody listened
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook_listener_down", error=repr(exc))
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
            await asyncio.sleep(backoff)
            backoff = min(30.0, backoff * 2)

    async def _relay_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await relay(self.db, self.queue, self.settings)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the cron relays what this pass could not
                log.warning("webhook_relay_failed", error=repr(exc))
