"""Staff views of the org's linked LMS contexts and the on-demand roster sync (NRPS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from saq import Queue
from sqlalchemy import Integer, func, select
from sqlalchemy.orm import aliased

from app.config import Settings
from app.db.models import Course, LtiContext, LtiContextMember, LtiPlatform
from app.domain.base import TenantService
from app.domain.lti.nrps import enqueue_roster_sync
from app.lib.errors import Conflict, NotFound, ServiceUnavailable
from app.lib.pagination import fetch_page, paginated


class LtiPlatformRef(msgspec.Struct):
    id: UUID
    name: str
    issuer: str


class LtiCourseRef(msgspec.Struct):
    id: UUID
    slug: str
    title: str


class LtiContextOut(msgspec.Struct):
    """A linked LMS course: the Lyceum course it maps to, its members, its services and last roster sync."""

    id: UUID
    platform: LtiPlatformRef
    context_id: str
    title: str
    label: str
    course: LtiCourseRef | None
    active_members: int
    inactive_members: int
    roster_service: bool  # NRPS available: a sync can be requested
    grade_service: bool  # AGS line items container known
    roster_synced_at: datetime | None
    created_at: datetime


class RosterSyncQueued(msgspec.Struct):
    context_id: UUID
    queued: bool  # False: a sync of this context is already queued or running


@dataclass(eq=False, repr=False, kw_only=True)
class LtiContextService(TenantService):
    """The caller's org's contexts (RLS scopes every read); a sync is queued on ``queue``."""

    queue: Queue
    settings: Settings

    async def list(self, page: LimitOffset) -> OffsetPagination[LtiContextOut]:
        member = aliased(LtiContextMember)
        counts = (
            select(
                member.context_pk,
                func.sum(func.cast(member.active, Integer)).label("active"),
                func.count().label("total"),
            )
            .group_by(member.context_pk)
            .subquery()
        )
        query = (
            select(LtiContext, LtiPlatform, Course, counts.c.active, counts.c.total)
            .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
            .outerjoin(Course, Course.id == LtiContext.course_id)
            .outerjoin(counts, counts.c.context_pk == LtiContext.id)
            .order_by(LtiContext.created_at.desc(), LtiContext.id)
        )
        async with self._tx() as session:
            rows, result = await fetch_page(session, query, page)
        items = [
            LtiContextOut(
                id=context.id,
                platform=LtiPlatformRef(id=platform.id, name=platform.name, issuer=platform.issuer),
                context_id=context.context_id,
                title=context.title,
                label=context.label,
                course=LtiCourseRef(id=course.id, slug=course.slug, title=course.title) if course else None,
                active_members=int(active or 0),
                inactive_members=int(total or 0) - int(active or 0),
                roster_service=context.nrps_url is not None,
                grade_service=context.ags_lineitems_url is not None,
                roster_synced_at=context.roster_synced_at,
                created_at=context.created_at,
            )
            for context, platform, course, active, total in rows
        ]
        return paginated(items, result)

    async def request_sync(self, context_pk: UUID) -> RosterSyncQueued:
        async with self._tx() as session:
            context = await session.get(LtiContext, context_pk)
            if context is None:
                raise NotFound("No such LMS context in this organization")
            if not context.nrps_url:
                raise Conflict(
                    "This LMS context offers no roster service (NRPS): launch from it with roster access enabled",
                    extra={"code": "no_roster_service"},
                )
        queued = await enqueue_roster_sync(self.queue, self.settings, self.principal.org_id, context_pk)
        if not queued and not await self._sync_pending(context_pk):
            raise ServiceUnavailable("The job queue is unavailable: try again shortly")
        return RosterSyncQueued(context_id=context_pk, queued=queued)

    async def _sync_pending(self, context_pk: UUID) -> bool:
        """Whether a sync job of this context is queued or running (the enqueue was refused by its key)."""
        from app.lib.jobs import lti_roster_job_key

        try:
            job = await self.queue.job(lti_roster_job_key(context_pk))
        except Exception:
            return False
        return job is not None
