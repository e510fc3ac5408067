"""How submissions enter the review queue: the priority of each reason and the deadline a person has.

Grading reaches this through its ``ReviewQueue`` port (app/domain/grading/ports.py), wired by the
composition root; it never imports the review package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.models import Assessment, ReviewItem, Submission

PRIORITY = {"grader_error": 0, "disagreement": 1, "low_confidence": 2, "sample": 3}  # 0 most urgent


@dataclass(frozen=True, slots=True)
class ReviewQueuePolicy:
    sla_hours: float  # LYCEUM_REVIEW_SLA_HOURS: time to decide an escalated submission

    def open(self, submission: Submission, assessment: Assessment, reason: str) -> ReviewItem:
        return ReviewItem(
            org_id=submission.org_id,
            submission_id=submission.id,
            assessment_id=assessment.id,
            course_id=assessment.course_id,
            reason=reason,
            priority=PRIORITY[reason],
            status="open",
            sla_due_at=datetime.now(UTC) + timedelta(hours=self.sla_hours),
        )

    def reprioritise(self, review: ReviewItem, reason: str) -> None:
        review.reason, review.priority = reason, PRIORITY[reason]
