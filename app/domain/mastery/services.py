"""``GET /v1/me/mastery``: the caller's mastery per competency of a course, read from the projection."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Competency, Course, Enrollment, MasteryEstimate
from app.domain.base import TenantService
from app.domain.mastery.schemas import MasteryItem, MasteryOut
from app.lib.errors import NotFound


async def course_estimates(session: AsyncSession, user_id: UUID, course_id: UUID) -> list[MasteryItem]:
    """The learner's estimate of every competency of the course (the prior where there is no evidence yet),
    sorted by slug: the one read of the projection, for the endpoint and for other domains (e.g. a
    recommender's "weak competencies": those below a threshold, lowest first)."""
    rows = await session.execute(
        select(
            Competency.id,
            Competency.slug,
            Competency.name,
            Competency.bkt_prior,
            MasteryEstimate.mastery,
            MasteryEstimate.attempts,
            MasteryEstimate.last_evidence_at,
        )
        .outerjoin(
            MasteryEstimate,
            and_(MasteryEstimate.competency_id == Competency.id, MasteryEstimate.user_id == user_id),
        )
        .where(Competency.course_id == course_id)
        .order_by(Competency.slug)
    )
    return [
        MasteryItem(
            competency_id=cid,
            slug=slug,
            name=name,
            mastery=round(prior if mastery is None else mastery, 4),
            attempts=attempts or 0,
            last_evidence_at=last,
        )
        for cid, slug, name, prior, mastery, attempts, last in rows
    ]


class MasteryService(TenantService):
    async def mine(self, course_id: UUID) -> MasteryOut:
        """Every competency of the course, estimate or prior. An unknown course, another org's and one the
        caller is not enrolled in all answer the same 404 (nothing revealed about which exist)."""
        user_id = self.principal.user_id
        async with self._tx() as session:
            enrolled = await session.scalar(
                select(Enrollment.id)
                .join(Course, Course.id == Enrollment.course_id)
                .where(
                    Enrollment.course_id == course_id,
                    Enrollment.user_id == user_id,
                    Course.is_published.is_(True),
                )
            )
            if enrolled is None:
                raise NotFound("No course of yours with this id")
            return MasteryOut(items=await course_estimates(session, user_id, course_id))
