"""SAQ task functions. Each is a thin shell around a domain service, like a controller."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import structlog
from saq.types import Context
from sqlalchemy import text

from app.domain.components import Components
from app.domain.credentials.enqueue import enqueue_issue_credential
from app.domain.credentials.issuance import CredentialSchemaError, IssuanceService
from app.domain.grading.deps import grading_service
from app.domain.grading.graders import TransientGradingError
from app.domain.grading.services import GradingService, enqueue_grading, stale_after_seconds
from app.domain.search.indexer import ContentIndexer
from app.domain.spaced.services import DueCounter

log = structlog.get_logger("lyceum.jobs")


async def ping(ctx: Context, *, message: str = "pong") -> dict[str, Any]:
    """Round trip through the queue; used by health checks and the queue benchmark."""
    return {"message": message, "at": time.time()}


async def heartbeat(ctx: Context) -> None:
    """Proves the worker can reach PostgreSQL every minute; the last beat is kept in Redis for operators."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    async with components.db.transaction(None) as session:
        await session.execute(text("select 1"))
    await components.redis.set(f"{components.settings.redis_key_prefix}worker:heartbeat", str(time.time()), ex=300)


async def _keep_alive(job: Any, service: GradingService, submission_id: UUID, every: float) -> None:
    """Touch the job (in Redis, for SAQ's sweep) and the submission (in PostgreSQL, for ours) while it
    runs: a worker that dies stops touching both, and one of the sweeps gives the work to another run.
    A failed beat (Redis or PostgreSQL briefly away) is logged and the next one tried; it must not end
    the heart-beating of a job that is still working."""
    while True:
        await asyncio.sleep(every)
        for beat in (job.update, lambda: service.heartbeat(submission_id)):
            try:
                await beat()
            except Exception as exc:
                log.warning("grading_heartbeat_failed", submission_id=str(submission_id), error=repr(exc))


async def grade_submission(ctx: Context, *, submission_id: str, org_id: str) -> str:
    """Grade one submission (once: a re-run finds it graded and stops). Transient failures raise so SAQ
    retries with backoff; the last failed attempt lands on the dead-letter list instead."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    service = grading_service(components, UUID(org_id))
    every = max(0.5, components.settings.grading_heartbeat_seconds / 3)
    beat = asyncio.create_task(_keep_alive(job, service, UUID(submission_id), every))
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
    """Give work that nothing is doing back to the queue; returns how many jobs were queued.

    - ``queued`` for longer than the threshold: Redis was down at enqueue, or lost the job.
    - ``grading`` with a heartbeat older than the threshold: the run was abandoned (its worker or
      ``lyceum up`` stopped or was killed) and its job is gone (Redis lost it, or SAQ gave up on it).
      Each such recovery is counted; past LYCEUM_GRADING_RETRIES the submission fails to the
      dead-letter list instead.

    The job key keeps a live job from being doubled (the enqueue is refused), and grading itself
    re-checks the status under a row lock, so a submission is graded once however the runs race.
    The threshold is LYCEUM_GRADING_STALE_SECONDS; the sweep runs every heartbeat."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    threshold = stale_after_seconds(components.settings)
    async with components.db.transaction(None) as session:
        stalled = (await session.execute(text("select * from lyceum_stalled_submissions(:s)"), {"s": threshold})).all()
    queued = 0
    for submission_id, org_id, status in stalled:
        service = grading_service(components, org_id)
        if status == "grading" and not await service.may_recover(submission_id):
            continue
        if await enqueue_grading(components.queue, components.settings, submission_id, org_id):
            queued += 1
            if status == "grading":
                await service.record_recovery(submission_id)
    return queued


async def index_course(ctx: Context, *, org_id: str, course_id: str) -> dict[str, Any]:
    """Bring one course's content index (PostgreSQL chunks and the org's Chroma collection) in step with
    its content; keyed per course version, idempotent (chunk ids are content hashes). Failures raise so
    SAQ retries; the last failed attempt lands on the dead-letter list instead."""
    runtime: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    indexer = ContentIndexer(runtime.db, runtime.search.vectors)
    try:
        report = await indexer.index_course(UUID(org_id), UUID(course_id))
    except Exception as exc:
        if job.attempts >= job.retries:
            await indexer.dead_letter(UUID(org_id), UUID(course_id), job.key, job.attempts, repr(exc))
            return {"failed": repr(exc)}
        log.warning("index_course_retry", org_id=org_id, course_id=course_id, attempt=job.attempts, error=repr(exc))
        raise
    return {"chunks": report.chunks, "added": report.added, "removed": report.removed}


async def precompute_review_due(ctx: Context) -> dict[str, Any]:
    """Daily cron (LYCEUM_SPACED_REVIEW_CRON): every learner's spaced-review due counts for the UTC day,
    written to ``review_due_counts``. Idempotent per day (a re-run overwrites), so SAQ's retries and a
    manual re-run are safe; a failure raises for SAQ to retry, and the next day's run starts afresh."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    report = await DueCounter(components.db).precompute()
    log.info("review_due_precomputed", day=report.day, orgs=report.orgs, learners=report.learners, due=report.due_now)
    return {"day": report.day, "orgs": report.orgs, "learners": report.learners, "due_now": report.due_now}


async def _touch(job: Any, every: float) -> None:
    """Keep a running job's SAQ heartbeat fresh (a dead worker stops touching it, and the sweep retries it)."""
    while True:
        await asyncio.sleep(every)
        try:
            await job.update()
        except Exception as exc:
            log.warning("job_heartbeat_failed", job=job.key, error=repr(exc))


async def issue_credential(ctx: Context, *, org_id: str, enrollment_id: str) -> str:
    """Issue the credential of one completed enrolment (once: a re-run finds it and stops), then announce it.
    A credential that fails the OBv3 schema goes to the dead-letter list at once (a retry builds the same
    one); other failures raise so SAQ retries with backoff, and the last attempt dead-letters."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    org, enrollment = UUID(org_id), UUID(enrollment_id)
    service = IssuanceService(components.db, components.settings)
    beat = asyncio.create_task(_touch(job, max(0.5, components.settings.grading_heartbeat_seconds / 3)))
    try:
        result = await service.issue(org, enrollment)
    except CredentialSchemaError as exc:
        log.error("credential_schema_invalid", enrollment_id=enrollment_id, path=exc.path, error=exc.message)
        await service.dead_letter(org, enrollment, job.attempts, f"schema: {exc}", schema_path=exc.path)
        return "invalid"
    except Exception as exc:
        if job.attempts >= job.retries:
            await service.dead_letter(org, enrollment, job.attempts, f"{type(exc).__name__}: {exc}")
            return "failed"
        log.warning("credential_retry", enrollment_id=enrollment_id, attempt=job.attempts, error=repr(exc))
        raise
    finally:
        beat.cancel()
    if result.announcement is not None:
        await components.events.publish(org, result.announcement)
    return result.outcome


async def issue_pending_credentials(ctx: Context, *, limit: int = 500) -> int:
    """Every LYCEUM_GRADING_HEARTBEAT_SECONDS: queue ``issue_credential`` for completed enrolments that still
    have no credential (and no dead letter), whatever lost their job: Redis losing it, a crash between a
    completion's commit and its enqueue, a restart. A job already queued for one is refused by its key;
    returns how many were queued."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    async with components.db.transaction(None) as session:
        pending = (
            await session.execute(text("select * from lyceum_completed_without_credential(:n)"), {"n": limit})
        ).all()
    queued = 0
    for enrollment_id, org_id in pending:
        queued += await enqueue_issue_credential(components.queue, components.settings, org_id, enrollment_id)
    return queued
