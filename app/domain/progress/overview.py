""" "My learning": each enrolled course with where to resume, grades waiting for a person, recent grades.

The resume point is the item the learner last opened (recorded by ``PUT /v1/courses/{id}/position``) while
it is not done yet; once it is done, the next item to do; with nothing recorded, the next item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Assessment, Course, Enrollment, Grade, Item, ProgressEvent, ReviewItem, Submission
from app.domain.base import TenantService
from app.domain.courses.services import CourseService
from app.domain.mastery.gates import unmet_requirements
from app.domain.progress.ledger import completed_items
from app.domain.progress.schemas import CourseResume, LearnerSubmission, LearningOverview
from app.domain.progress.services import fold_progress, gated_items
from app.lib.errors import Conflict, NotFound

RECENT_GRADES = 5
PENDING_REVIEWS = 20


def _learner_submission(
    s: Submission,
    course_id: UUID,
    item_id: UUID,
    item_title: str,
    course_title: str,
    *,
    review_due_at: datetime | None = None,
    grade: Grade | None = None,
    graded_at: datetime | None = None,
) -> LearnerSubmission:
    """One submission of the caller's with its course and item, as "pending reviews" and "recent grades" show it."""
    return LearnerSubmission(
        submission_id=s.id,
        course_id=course_id,
        course_title=course_title,
        item_id=item_id,
        item_title=item_title,
        status=s.status,
        submitted_at=s.created_at,
        review_due_at=review_due_at,
        score=grade.score if grade else None,
        max_score=grade.max_score if grade else None,
        passed=grade.passed if grade else None,
        graded_at=graded_at,
    )


@dataclass(eq=False, repr=False, kw_only=True)
class LearningService(TenantService):
    courses: CourseService

    async def record_position(self, course_id: UUID, item_id: UUID) -> None:
        """Remember the item the learner has open (idempotent; the newest call wins)."""
        async with self._tx() as session:
            in_course = await session.scalar(select(Item.id).where(Item.id == item_id, Item.course_id == course_id))
            if in_course is None:
                raise NotFound("No such item in this course")
            enrollment = await session.scalar(
                select(Enrollment).where(
                    Enrollment.course_id == course_id, Enrollment.user_id == self.principal.user_id
                )
            )
            if enrollment is None:
                raise Conflict("Enroll in the course first", extra={"code": "not_enrolled"})
            enrollment.last_item_id, enrollment.last_item_at = item_id, datetime.now(UTC)

    async def overview(self) -> LearningOverview:
        courses = self.courses
        async with self._tx() as session:
            enrollments = list(
                (
                    await session.execute(
                        select(Enrollment, Course.title)
                        .join(Course, Course.id == Enrollment.course_id)
                        .where(Enrollment.user_id == self.principal.user_id, Enrollment.status != "withdrawn")
                        .order_by(Enrollment.last_item_at.desc().nulls_last(), Enrollment.created_at.desc())
                        .limit(50)
                    )
                ).all()
            )
            streams: dict[UUID, list[ProgressEvent]] = {e.id: [] for e, _ in enrollments}
            if streams:
                for event in await session.scalars(
                    select(ProgressEvent)
                    .where(ProgressEvent.stream_id.in_(list(streams)))
                    .order_by(ProgressEvent.version)
                ):
                    streams[event.stream_id].append(event)
            pending, recent = await self._submissions(session)
        outlines = {e.course_id: await courses.detail(e.course_id) for e, _ in enrollments}
        gated = [i for o in outlines.values() for i in gated_items(o)]
        gates = {}
        if gated:  # only courses with competency gates cost a query
            async with self._tx() as session:
                gates = await unmet_requirements(session, self.principal.user_id, gated)
        resumes = []
        for enrollment, title in enrollments:
            outline = outlines[enrollment.course_id]
            done = completed_items(streams[enrollment.id])
            progress = fold_progress(outline, enrollment, done, gates)
            titles = {i.id: i.title for m in outline.modules for i in m.items}
            last = enrollment.last_item_id if enrollment.last_item_id in titles else None
            resume = last if last is not None and last not in done else progress.next_item_id or last
            resumes.append(
                CourseResume(
                    enrollment_id=enrollment.id,
                    course_id=enrollment.course_id,
                    course_title=title,
                    status=enrollment.status,
                    percent=progress.percent,
                    completed_items=progress.completed_items,
                    total_items=progress.total_items,
                    resume_item_id=resume,
                    resume_item_title=titles.get(resume, "") if resume else "",
                    next_item_id=progress.next_item_id,
                    next_item_title=titles.get(progress.next_item_id, "") if progress.next_item_id else "",
                    last_opened_at=enrollment.last_item_at,
                )
            )
        return LearningOverview(courses=resumes, pending_reviews=pending, recent_grades=recent)

    async def _submissions(self, session: AsyncSession) -> tuple[list[LearnerSubmission], list[LearnerSubmission]]:
        base = (
            select(Submission, Assessment.course_id, Assessment.item_id, Item.title, Course.title)
            .join(Assessment, Assessment.id == Submission.assessment_id)
            .join(Item, Item.id == Assessment.item_id)
            .join(Course, Course.id == Assessment.course_id)
            .where(Submission.user_id == self.principal.user_id)
        )
        pending_rows = (
            await session.execute(
                base.add_columns(ReviewItem.sla_due_at)
                .join(ReviewItem, ReviewItem.submission_id == Submission.id)
                .where(Submission.status == "in_review", ReviewItem.status == "open")
                .order_by(Submission.created_at)
                .limit(PENDING_REVIEWS)
            )
        ).all()
        pending = [
            _learner_submission(s, course_id, item_id, item_title, course_title, review_due_at=due)
            for s, course_id, item_id, item_title, course_title, due in pending_rows
        ]
        graded_rows = (
            await session.execute(
                base.where(Submission.status == "graded").order_by(Submission.updated_at.desc()).limit(RECENT_GRADES)
            )
        ).all()
        grades: dict[UUID, Grade] = {}
        if graded_rows:
            for grade in await session.scalars(
                select(Grade)
                .where(Grade.submission_id.in_([row[0].id for row in graded_rows]))
                .order_by(Grade.created_at)
            ):
                grades[grade.submission_id] = grade  # the latest wins
        recent = []
        for s, course_id, item_id, item_title, course_title in graded_rows:
            latest = grades.get(s.id)
            graded_at = latest.created_at if latest else s.updated_at
            recent.append(
                _learner_submission(s, course_id, item_id, item_title, course_title, grade=latest, graded_at=graded_at)
            )
        return pending, recent
