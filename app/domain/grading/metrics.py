"""Grading's service-level indicators (docs/slo.md): how long a submission waits for its grade, and how
many are never graded automatically (dead-lettered).

Observed after the grade's transaction committed (``GradeRecorder.announce``), in whichever process graded
it: the API process for exact answers (graded in the request, ~0 s), the worker for the rest."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Histogram

from app.lib.observability import REGISTRY

# The SLO threshold (60 s, docs/slo.md) must be a bucket bound: the SLI reads the `le="60"` bucket.
DURATION = Histogram(
    "lyceum_grading_duration_seconds",
    "From a submission's creation to its grade being committed (graded, or sent to a person), by assessment kind",
    ["kind"],
    registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
OUTCOMES = Counter(
    "lyceum_grading_outcomes_total",
    "Submissions settled by grading: graded, in_review (a person must grade or confirm), "
    "failed (dead-lettered: grading could not be completed)",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("graded", "in_review", "failed"):  # exported at 0, so ratios over them exist before the first
    OUTCOMES.labels(_outcome)


def observe_grade(kind: str, submitted_at: datetime | None, status: str, now: datetime | None = None) -> None:
    """A grade committed for a submission created at ``submitted_at`` (``status``: graded or in_review)."""
    OUTCOMES.labels(status).inc()
    if submitted_at is not None:
        elapsed = ((now or datetime.now(UTC)) - submitted_at).total_seconds()
        DURATION.labels(kind).observe(max(0.0, elapsed))  # another host's clock may run a little ahead


def observe_failed() -> None:
    OUTCOMES.labels("failed").inc()
