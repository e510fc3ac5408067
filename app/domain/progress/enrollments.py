"""Enrollment: joining a course opens the learner's progress stream (stream id = enrollment id), and the
list of the caller's enrollments shows how far each stream has come.

Progress owns enrollments and their streams; the catalogue (app/domain/courses) knows nothing of them
beyond the caller's enrollment state on a course outline."""

from __future__ import annotations

from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Course, Enrollment, Item, ProgressEvent
from app.domain.audit.services import record_audit
from app.domain.base import TenantService
from app.domain.courses.schemas import EnrollmentOut
from app.domain.progress.ledger import COMPLETION_EVENTS
from app.domain.progress.services import append_progress_event
from app.lib.errors import NotFound
from app.lib.pagination import fetch_page, paginated


class EnrollmentService(TenantService):
    async def enroll(self, course_id: UUID) -> tuple[EnrollmentOut, bool]:
        """Enroll the caller; enrolling again returns the existing enrollment. Returns (enrollment, created)."""
        org_id, user_id = self.principal.org_id, self.principal.user_id
        async with self._tx() as session:
            course = await session.get(Course, course_id)
            if course is None or not course.is_published:
                raise NotFound("No such course in your organization")
            created_id = (
                await session.execute(
                    insert(Enrollment)
                    .values(
                        org_id=org_id,
                        user_id=user_id,
                        course_id=course_id,
                        status="active",
                        course_version=course.version,
                    )
                    .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
                    .returning(Enrollment.id)
                )
            ).scalar_one_or_none()
            enrollment = await session.scalar(
                select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
            )
            assert enrollment is not None
            if created_id is not None:
                # The enrollment opens the learner's progress stream (its first event, version 1).
                await append_progress_event(
                    session, enrollment, "enrolled", {"course_slug": course.slug}, f"enrolled:{enrollment.id}"
                )
                record_audit(
                    session,
                    org_id=org_id,
                    actor_id=user_id,
                    action="enrollment.created",
                    entity_type="enrollment",
                    entity_id=enrollment.id,
                    after={"course_id": str(course_id)},
                    request_id=self.request_id,
                )
            return self._enrollment_out(enrollment, course.title), created_id is not None

    @staticmethod
    def _enrollment_out(e: Enrollment, title: str, total: int = 0, done: int = 0) -> EnrollmentOut:
        return EnrollmentOut(
            id=e.id,
            course_id=e.course_id,
            user_id=e.user_id,
            status=e.status,
            created_at=e.created_at,
            completed_at=e.completed_at,
            course_title=title,
            total_items=total,
            completed_items=done,
            percent=(done * 100) // total if total else 0,
        )

    async def my_enrollments(self, page: LimitOffset) -> OffsetPagination[EnrollmentOut]:
        query = (
            select(Enrollment, Course.title)
            .join(Course, Course.id == Enrollment.course_id)
            .where(Enrollment.user_id == self.principal.user_id)
        )
        async with self._tx() as session:
            ordered = query.order_by(Enrollment.created_at.desc(), Enrollment.id)
            # Hand-written Core (ADR 0009): enrolments joined to titles, progress counted per page in batch.
            rows, result = await fetch_page(session, ordered, page)
            totals, done = await self._progress_counts(session, [e for e, _ in rows])
            return paginated(
                [self._enrollment_out(e, title, totals.get(e.course_id, 0), done.get(e.id, 0)) for e, title in rows],
                result,
            )

    @staticmethod
    async def _progress_counts(
        session: AsyncSession, enrollments: list[Enrollment]
    ) -> tuple[dict[UUID, int], dict[UUID, int]]:
        """Items per course and distinct completed items per enrollment stream, in two grouped queries."""
        if not enrollments:
            return {}, {}
        course_ids = [e.course_id for e in enrollments]
        totals = dict(
            (
                await session.execute(
                    select(Item.course_id, func.count()).where(Item.course_id.in_(course_ids)).group_by(Item.course_id)
                )
            ).all()
        )
        item_id = ProgressEvent.payload["item_id"].astext
        done = dict(
            (
                await session.execute(
                    select(ProgressEvent.stream_id, func.count(func.distinct(item_id)))
                    .where(
                        ProgressEvent.stream_id.in_([e.id for e in enrollments]),
                        ProgressEvent.type.in_(COMPLETION_EVENTS),
                    )
                    .group_by(ProgressEvent.stream_id)
                )
            ).all()
        )
        return totals, done
