"""SAQ task functions. Each is a thin shell around a domain service, like a controller."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import structlog
from saq.types import Context
from sqlalchemy import text

from app.domain.grading.graders import TransientGradingError
from app.domain.grading.services import GradingService, enqueue_grading
from app.runtime import Runtime

log = structlog.get_logger("lyceum.jobs")


async def ping(ctx: Context, *, message: str = "pong") -> dict[str, Any]:
    """Round trip through the queue; used by health checks and the queue benchmark."""
    return {"message": message, "at": time.time()}


async def heartbeat(ctx: Context) -> None:
    """Proves the worker can reach PostgreSQL every minute; the last beat is kept in Redis for operators."""
    runtime: Runtime = ctx["runtime"]  # type: ignore[typeddict-item]
    async with runtime.db.transaction(None) as session:
        await session.execute(text("select 1"))
    await runtime.redis.set(f"{runtime.settings.redis_key_prefix}worker:heartbeat", str(time.time()), ex=300)


async def _keep_alive(job: Any, every: float) -> None:
    """Touch the job while it runs: a worker that dies stops touching it, and the sweep retries it."""
    while True:
        await asyncio.sleep(every)
        await job.update()


async def grade_submission(ctx: Context, *, submission_id: str, org_id: str) -> str:
    """Grade one submission (once: a re-run finds it graded and stops). Transient failures raise so SAQ
    retries with backoff; the last failed attempt lands on the dead-letter list instead."""
    runtime: Runtime = ctx["runtime"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    service = GradingService(runtime, UUID(org_id))
    beat = asyncio.create_task(_keep_alive(job, max(0.5, runtime.settings.grading_heartbeat_seconds / 3)))
    try:
        return await service.grade(UUID(submission_id))
    except Exception as exc:
        kind = "transient" if isinstance(exc, TransientGradingError) else type(exc).__name__
        if job.attempts >= job.retries:
            await service.dead_letter(UUID(submission_id), job.key, job.attempts, f"{kind}: {exc}")
            return "failed"
        log.warning("grading_retry", submission_id=submission_id, attempt=job.attempts, error=str(exc))
        raise
    finally:
        beat.cancel()


async def requeue_stalled_submissions(ctx: Context) -> int:
    """Submissions still "queued" a minute after they were made (Redis was down at enqueue, a job was
    lost) are enqueued again; the job key keeps a live job from being doubled."""
    runtime: Runtime = ctx["runtime"]  # type: ignore[typeddict-item]
    async with runtime.db.transaction(None) as session:
        stalled = (await session.execute(text("select * from lyceum_stalled_submissions(60)"))).all()
    for submission_id, org_id in stalled:
        await enqueue_grading(runtime, submission_id, org_id)
    return len(stalled)
