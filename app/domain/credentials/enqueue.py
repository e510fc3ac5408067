"""Queueing ``issue_credential`` jobs: after a course's completion commits, and from the worker's sweep.

Kept apart from ``issuance.py`` so the places that complete courses (progress, grading, review) need only
the queue, not the signing stack."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import structlog
from redis.exceptions import RedisError
from saq import Queue

from app.config import Settings
from app.lib.jobs import credential_job_key

log = structlog.get_logger("lyceum.credentials")


async def enqueue_issue_credential(queue: Queue, settings: Settings, org_id: UUID, enrollment_id: UUID) -> bool:
    """Queue the issuing of one enrolment's credential; False when no new job was queued (one with this
    enrolment's key is queued or running, or Redis is down). Nothing is lost either way: the worker's
    ``issue_pending_credentials`` sweep queues every completed enrolment that still has no credential."""
    try:
        job = await queue.enqueue(
            "issue_credential",
            key=credential_job_key(enrollment_id),
            org_id=str(org_id),
            enrollment_id=str(enrollment_id),
            retries=settings.credentials_retries,
            retry_delay=1.0,
            retry_backoff=30.0,
            timeout=60,
            # Touched while it runs (jobs/tasks.py): a job whose worker died is retried by SAQ's sweep after
            # this long, not only after its 60 s timeout.
            heartbeat=settings.grading_heartbeat_seconds,
        )
    except (RedisError, OSError) as exc:
        log.warning("credential_enqueue_failed", enrollment_id=str(enrollment_id), error=str(exc))
        return False
    return job is not None


async def enqueue_credentials(queue: Queue, settings: Settings, completed: Iterable[tuple[UUID, UUID]]) -> int:
    """``enqueue_issue_credential`` for each (org, enrolment) a committed transaction completed."""
    queued = 0
    for org_id, enrollment_id in completed:
        queued += await enqueue_issue_credential(queue, settings, org_id, enrollment_id)
    return queued
