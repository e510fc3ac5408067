"""The one background job queue (SAQ on Redis), shared by the API (enqueue) and the worker (process)."""

from __future__ import annotations

from saq import Queue

from app.config import Settings

QUEUE_NAME = "lyceum"


def create_queue(settings: Settings) -> Queue:
    return Queue.from_url(settings.redis_url, name=f"{settings.redis_key_prefix}{QUEUE_NAME}")


def grading_job_key(submission_id: object) -> str:
    """One key per submission: SAQ refuses a second job with a live key, so a resubmitted or re-enqueued
    submission is graded once (and the task itself re-checks the status before writing a grade)."""
    return f"grade:{submission_id}"
