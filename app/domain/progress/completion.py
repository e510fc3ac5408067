"""What completes an assessment: the one interface grading and review use to reach progress (issue 11).

The pass rule is written here once (grading, reviewers' overrides and the AI/human agreement figures ask
``passes``), and a final grade becomes progress events through ``record_grade_progress``. Lessons and
exercises are completed by the learner (``ProgressService.complete_item``); the fold from a stream to
completed items is ``progress/ledger.py``."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Assessment, Enrollment, Grade, Item, ItemCompetency, Submission
from app.domain.progress.services import append_progress_events, complete_course_if_finished
from app.domain.spaced.services import open_review_cards
from app.domain.webhooks.outbox import record_event
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
    *,
    enrollment: Enrollment | None = None,
) -> AssessmentGraded | None:
    """Every final grade is a progress event; a pass (``grade.passed``, from ``passes``) also completes the
    assessment item. The grading worker and a reviewer's decision both tell progress about a grade here.

    ``assessment.graded`` is keyed by the grade id (``assessment.graded:<grade_id>``), so recording the same
    grade again (a redelivered job, a retried decision) appends nothing: the mastery projection, folded from
    these events in the same transaction, counts each grade once. Returns the bus announcement to publish
    after the commit (None when the learner is not enrolled). ``enrollment``: the learner's in the course,
    when the caller has already read it (the submitting request has)."""
    if enrollment is None:
        enrollment = await session.scalar(
            select(Enrollment).where(
                Enrollment.user_id == submission.user_id, Enrollment.course_id == assessment.course_id
            )
        )
    if enrollment is None:
        return None
    # The item's slug and competencies in one statement (the competency ids in a stable order).
    ordered = aggregate_order_by(ItemCompetency.competency_id, ItemCompetency.competency_id)
    competency_ids = (
        select(func.array_agg(ordered)).where(ItemCompetency.item_id == assessment.item_id).scalar_subquery()
    )
    row = (await session.execute(select(Item.slug, competency_ids).where(Item.id == assessment.item_id))).one()
    item_slug, competencies = row[0], list(row[1] or ())  # array_agg of no rows is NULL
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
    # One append for the grade and, for a pass, the item's completion (one lock, one version read).
    appends = [("assessment.graded", payload, f"assessment.graded:{grade.id}")]
    if grade.passed:
        appends.append(("assessment.passed", payload, f"passed:{enrollment.id}:{assessment.item_id}"))
    [(_, created), *_] = await append_progress_events(session, enrollment, appends)
    if not created:
        return None  # this grade is already recorded (and announced): nothing new
    graded = AssessmentGraded(
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
    await record_event(session, enrollment.org_id, graded)  # webhooks: with the grade, in its transaction
    if grade.passed:
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
    return graded
