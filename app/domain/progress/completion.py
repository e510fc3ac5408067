"""What completes an assessment: the one interface grading and review use to reach progress (issue 11).

The pass rule is written here once (grading, reviewers' overrides and the AI/human agreement figures ask
``passes``), and a final grade becomes progress events through ``record_grade_progress``. Lessons and
exercises are completed by the learner (``ProgressService.complete_item``); the fold from a stream to
completed items is ``progress/ledger.py``."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Assessment, Enrollment, Grade, Item, ItemCompetency, Submission
from app.domain.progress.services import append_progress_event, complete_course_if_finished
from app.domain.spaced.services import open_review_cards
from app.lib.event_payloads import AssessmentGraded


def passes(score: float, max_score: float, pass_mark: float) -> bool:
    """The pass rule: at least ``pass_mark`` (a fraction) of a positive maximum. Grading, reviewers'
    overrides (the stored ``Grade.passed`` that completes an assessment) and the agreement figures ask here."""
    return max_score > 0 and score / max_score >= pass_mark


async def record_grade_progress(
    session: AsyncSession,
    submission: Submission,
    assessment: Assessment,
    grade: Grade,
    actor_id: UUID | None = None,
) -> AssessmentGraded | None:
    """Every final grade is a progress event; a pass (``grade.passed``, from ``passes``) also completes the
    assessment item. The grading worker and a reviewer's decision both tell progress about a grade here.

    ``assessment.graded`` is keyed by the grade id (``assessment.graded:<grade_id>``), so recording the same
    grade again (a redelivered job, a retried decision) appends nothing: the mastery projection, folded from
    these events in the same transaction, counts each grade once. Returns the bus announcement to publish
    after the commit (None when the learner is not enrolled)."""
    enrollment = await session.scalar(
        select(Enrollment).where(Enrollment.user_id == submission.user_id, Enrollment.course_id == assessment.course_id)
    )
    if enrollment is None:
        return None
    item_slug = await session.scalar(select(Item.slug).where(Item.id == assessment.item_id))
    competencies = list(
        await session.scalars(
            select(ItemCompetency.competency_id)
            .where(ItemCompetency.item_id == assessment.item_id)
            .order_by(ItemCompetency.competency_id)
        )
    )
    payload = {
        "grade_id": str(grade.id),
        "item_id": str(assessment.item_id),
        "item_slug": item_slug,
        "submission_id": str(submission.id),
        "competencies": [str(c) for c in competencies],
        "score": grade.score,
        "max_score": grade.max_score,
        "passed": grade.passed,
        "graded_by": grade.graded_by,
    }
    _, created = await append_progress_event(
        session, enrollment, "assessment.graded", payload, f"assessment.graded:{grade.id}"
    )
    if not created:
        return None  # this grade is already recorded (and announced): nothing new
    if grade.passed:
        await append_progress_event(
            session, enrollment, "assessment.passed", payload, f"passed:{enrollment.id}:{assessment.item_id}"
        )
        # Spaced review (issue 12 §7): the pass opens review cards for the item's competencies, as of
        # when the learner answered; an existing card is kept (app/domain/spaced/services.py).
        await open_review_cards(
            session,
            org_id=enrollment.org_id,
            user_id=enrollment.user_id,
            course_id=assessment.course_id,
            item_id=assessment.item_id,
            passed_at=submission.created_at,
        )
        # The last assessment of a course (graded, or passed by a reviewer's override) finishes it.
        await complete_course_if_finished(session, enrollment, actor_id)
    return AssessmentGraded(
        grade_id=grade.id,
        submission_id=submission.id,
        course_id=assessment.course_id,
        item_id=assessment.item_id,
        user_id=submission.user_id,
        competency_ids=competencies,
        score=grade.score,
        max_score=grade.max_score,
        passed=grade.passed,
    )
