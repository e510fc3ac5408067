"""Grading escalates through its ReviewQueue port; the review domain's policy decides priority and deadline
(issue 11: grading never imports review; the composition root plugs the policy in)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.models import Assessment, ReviewItem, Submission
from app.domain.grading.ports import ReviewQueue
from app.domain.review.queue import PRIORITY, ReviewQueuePolicy
from app.server.components import build_components, close_components


def test_policy_opens_and_reprioritises_items() -> None:
    queue: ReviewQueue = ReviewQueuePolicy(sla_hours=48.0)
    submission = Submission(id=uuid.uuid4(), org_id=uuid.uuid4())
    assessment = Assessment(id=uuid.uuid4(), course_id=uuid.uuid4())
    before = datetime.now(UTC)
    item = queue.open(submission, assessment, "low_confidence")
    assert isinstance(item, ReviewItem)
    assert (item.org_id, item.submission_id, item.assessment_id, item.course_id) == (
        submission.org_id,
        submission.id,
        assessment.id,
        assessment.course_id,
    )
    assert (item.reason, item.priority, item.status) == ("low_confidence", PRIORITY["low_confidence"], "open")
    assert before + timedelta(hours=48) <= item.sla_due_at <= datetime.now(UTC) + timedelta(hours=48)
    queue.reprioritise(item, "disagreement")
    assert (item.reason, item.priority) == ("disagreement", PRIORITY["disagreement"])
    assert PRIORITY["grader_error"] < PRIORITY["disagreement"] < PRIORITY["low_confidence"] < PRIORITY["sample"]


async def test_composition_root_plugs_the_review_policy_into_grading(settings: Settings) -> None:
    components = build_components(settings)
    try:
        policy = components.grading.review_queue
        assert isinstance(policy, ReviewQueuePolicy)
        assert policy.sla_hours == settings.review_sla_hours
    finally:
        await close_components(components)
