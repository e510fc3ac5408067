"""The one background job queue (SAQ on Redis), shared by the API (enqueue) and the worker (process)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from redis.exceptions import RedisError
from saq import Job, Queue
from saq.queue.redis import RedisQueue

from app.config import Settings
from app.lib import tracing
from app.lib.job_updates import JobUpdates

QUEUE_NAME = "lyceum"
log = structlog.get_logger("lyceum.jobs")


class LyceumQueue(RedisQueue):
    """SAQ's Redis queue with two changes for Redis outages. A dequeue that cannot reach Redis waits before
    the worker asks again: SAQ's worker loop asks again at once, so while Redis was down (restarting under
    `lyceum up`, say) its ten fetch loops spun at full CPU and logged a traceback each time. And job-status
    updates are read by ``JobUpdates`` (job_updates.py), which reconnects instead of starving the loop."""

    _DEQUEUE_BACKOFF_MAX = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dequeue_backoff = 0.0
        self._pubsub = JobUpdates(self.redis, prefix=self._pubsub.prefix)
        self.register_before_enqueue(_carry_trace)

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109 - SAQ signature
        try:
            job: Job | None = await super().dequeue(timeout, poll_interval)
        except (RedisError, OSError) as exc:
            first = self._dequeue_backoff == 0.0
            self._dequeue_backoff = min(self._DEQUEUE_BACKOFF_MAX, max(0.1, self._dequeue_backoff * 2))
            if first:  # once per outage, not once per fetch loop and attempt
                log.warning("queue_unreachable", queue=self.name, error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self._dequeue_backoff)
            return None
        if self._dequeue_backoff:
            log.info("queue_reachable", queue=self.name)
            self._dequeue_backoff = 0.0
        return job


async def _carry_trace(job: Job) -> None:
    """The enqueuing span's W3C ``traceparent`` in the job's meta: the worker's job span continues that trace
    (jobs/job_tracing.py). Nothing is added when no span is active (tracing off, cron jobs)."""
    tracing.inject(job.meta)


def create_queue(settings: Settings) -> Queue:
    queue: Queue = LyceumQueue.from_url(settings.redis_url, name=f"{settings.redis_key_prefix}{QUEUE_NAME}")
    return queue


def grading_job_key(submission_id: object) -> str:
    """One key per submission: SAQ refuses a second job with a live key, so a resubmitted or re-enqueued
    submission is graded once (and the task itself re-checks the status before writing a grade)."""
    return f"grade:{submission_id}"


def credential_job_key(enrollment_id: object) -> str:
    """One key per enrolment: a second ``issue_credential`` while one is queued or running is refused, and
    the task itself finds an issued credential and stops, so a learner gets one credential per course."""
    return f"issue_credential:{enrollment_id}"


def lti_score_job_key(score_post_id: object) -> str:
    """One key per score post (``lti_score_posts`` row): the post-commit enqueue and the sweep never double
    a delivery; a replaced final grade is a new row, so a new key."""
    return f"lti_post_score:{score_post_id}"


def lti_roster_job_key(context_pk: object) -> str:
    """One roster sync per LMS context at a time (an instructor's click and the nightly cron coincide)."""
    return f"lti_sync_roster:{context_pk}"


def data_export_job_key(export_id: object) -> str:
    """One key per personal-data export: a poll that enqueues again while the build is queued or running is
    refused, and the task itself stops when it finds the export no longer ``pending``."""
    return f"build_data_export:{export_id}"
