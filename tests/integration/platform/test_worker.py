"""The SAQ worker runs jobs from the Redis queue and reaches PostgreSQL as the application role."""

from __future__ import annotations

import asyncio

from app.config import Settings
from jobs.worker import create_queue, create_worker


async def test_worker_runs_jobs(settings: Settings, seeded: object) -> None:
    worker = create_worker(settings, handle_signals=False)
    queue = create_queue(settings)
    task = asyncio.create_task(worker.start())
    try:
        result = await queue.apply("ping", message="hello", timeout=20)
        assert result["message"] == "hello"
        await queue.apply("heartbeat", timeout=20)
        components = worker.context["components"]
        assert await components.redis.get(f"{settings.redis_key_prefix}worker:heartbeat") is not None
    finally:
        await worker.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await queue.disconnect()
