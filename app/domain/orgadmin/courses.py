"""The org's courses as an admin sees them: visibility (``courses.is_published``) and enrolments (issue 17).

Unpublishing takes a course out of the catalogue, search and new enrolments; learners already enrolled keep
opening it (app/domain/courses/services.py). Authoring (drafts, versions) is another part of the issue and
lives under ``/v1/authoring``: only visibility is toggled here."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Course, Enrollment, Item, ProgressEvent, User
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.courses.services import course_cache_key
from app.domain.orgadmin.schemas import AdminCourseOut, CourseEnrollmentOut
from app.domain.progress.ledger import COMPLETION_EVENTS
from app.lib.errors import NotFound
from app.lib.pagination import fetch_page, paginated


def items_done_by_enrollment(course_id: UUID) -> Select[UUID, int]:
    """Distinct items done per enrolment (its ledger stream) in one course: one grouped scan of its events."""
    item_id = ProgressEvent.payload["item_id"].astext
    return (
        select(ProgressEvent.stream_id.label("enrollment_id"), func.count(func.distinct(item_id)).label("done"))
        .where(ProgressEvent.course_id == course_id, ProgressEvent.type.in_(COMPLETION_EVENTS))
        .group_by(ProgressEvent.stream_id)
    )


async def items_total(session: AsyncSession, course_id: UUID) -> int:
    return await session.scalar(select(func.count(Item.id)).where(Item.course_id == course_id)) or 0


async def course_title(session: AsyncSession, course_id: UUID) -> str:
    """The course's title; 404 for a course of another org (row-level security hides it) or none."""
    title = await session.scalar(select(Course.title).where(Course.id == course_id))
    if title is None:
        raise NotFound("No such course in your organization")
    return title


@dataclass(eq=False, repr=False, kw_only=True)
class OrgCourseService(TenantService):
    """``cache``: the course outline cache, cleared when a course's visibility changes."""

    cache: Redis
    settings: Settings

    async def list(self, page: LimitOffset) -> OffsetPagination[AdminCourseOut]:
        query = (
            select(
                Course.id,
                Course.slug,
                Course.title,
                Course.is_published,
                func.count(Enrollment.id),
                func.count(Enrollment.id).filter(Enrollment.status == "active"),
                func.count(Enrollment.id).filter(Enrollment.status == "completed"),
            )
            .outerjoin(Enrollment, Enrollment.course_id == Course.id)
            .group_by(Course.id)
            .order_by(Course.title, Course.id)
        )
        async with self._tx() as session:
            rows, result = await fetch_page(session, query, page)
        return paginated([AdminCourseOut(*row) for row in rows], result)

    async def set_visibility(self, course_id: UUID, published: bool) -> AdminCourseOut:
        async with self._tx() as session:
            course = await session.get(Course, course_id, with_for_update=True)  # RLS: this org's only
            if course is None:
                raise NotFound("No such course in your organization")
            if course.is_published != published:
                course.is_published = published
                record_audit_by(
                    session,
                    self.principal,
                    action="course.published" if published else "course.unpublished",
                    entity_type="course",
                    entity_id=course_id,
                    before={"is_published": not published},
                    after={"is_published": published},
                    request_id=self.request_id,
                )
            counts = (
                await session.execute(
                    select(
                        func.count(Enrollment.id),
                        func.count(Enrollment.id).filter(Enrollment.status == "active"),
                        func.count(Enrollment.id).filter(Enrollment.status == "completed"),
                    ).where(Enrollment.course_id == course_id)
                )
            ).one()
            out = AdminCourseOut(course.id, course.slug, course.title, course.is_published, *counts)
        # The cached outline was built for a published course: dropped so the next read checks again.
        with contextlib.suppress(RedisError):
            await self.cache.delete(course_cache_key(self.settings.redis_key_prefix, self.principal.org_id, course_id))
        return out

    async def enrollments(self, course_id: UUID, page: LimitOffset) -> OffsetPagination[CourseEnrollmentOut]:
        done = items_done_by_enrollment(course_id).subquery()
        query = (
            select(
                Enrollment.id,
                Enrollment.user_id,
                User.name,
                User.email,
                Enrollment.status,
                Enrollment.created_at,
                Enrollment.completed_at,
                func.coalesce(done.c.done, 0),
            )
            .join(User, User.id == Enrollment.user_id)
            .outerjoin(done, done.c.enrollment_id == Enrollment.id)
            .where(Enrollment.course_id == course_id)
            .order_by(Enrollment.created_at.desc(), Enrollment.id)
        )
        async with self._tx() as session:
            await course_title(session, course_id)
            total = await items_total(session, course_id)
            rows, result = await fetch_page(session, query, page)
        return paginated(
            [
                CourseEnrollmentOut(
                    id=row[0],
                    user_id=row[1],
                    name=row[2],
                    email=row[3],
                    status=row[4],
                    enrolled_at=row[5],
                    completed_at=row[6],
                    items_done=row[7],
                    items_total=total,
                )
                for row in rows
            ],
            result,
        )
