"""Course catalogue (read-through Redis cache for the course outline) and enrollment."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.content.schema import Course as CourseSpec
from app.db.models import (
    Competency,
    Course,
    CourseModule,
    CourseVersion,
    Enrollment,
    Item,
    ItemCompetency,
    ItemPrerequisite,
    ItemRequirement,
)
from app.domain.base import TenantService
from app.domain.courses.schemas import (
    CompetencyOut,
    CourseDetail,
    CourseSummary,
    EnrollmentState,
    ItemDetail,
    ItemOutline,
    ModuleOutline,
    RequirementOut,
)
from app.domain.courses.versions import (
    Unparsable,
    cached_version,
    derived_id,
    has_no_older_version,
    parse_version,
    remember_no_older_version,
    version_outline,
)
from app.domain.mastery.gates import gate_conflict, unmet_requirements
from app.lib.coalesce import coalesced
from app.lib.errors import NotFound
from app.lib.pagination import fetch_page, paginated
from app.lib.security.principal import Principal

_encoder = msgspec.json.Encoder()
_detail_decoder = msgspec.json.Decoder(CourseDetail)
DECODED_OUTLINES_MAX = 256


class _DecodedOutlines:
    """The last decoded outline per cache key, reused while Redis returns the very same bytes: every request
    for a course reads the cached JSON, and decoding it again is pure waste. Equal bytes decode to an equal
    outline, so this never serves anything Redis does not hold; the shared struct is only read (the caller's
    enrollment goes into a copy). Bounded: past ``DECODED_OUTLINES_MAX`` keys the oldest goes."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[bytes, CourseDetail]] = {}

    def decode(self, key: str, raw: bytes) -> CourseDetail:
        entry = self._entries.get(key)
        if entry is not None and entry[0] == raw:
            return entry[1]
        outline = _detail_decoder.decode(raw)
        if key not in self._entries and len(self._entries) >= DECODED_OUTLINES_MAX:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (raw, outline)
        return outline


_outlines = _DecodedOutlines()


def course_cache_key(prefix: str, org_id: UUID, course_id: UUID) -> str:
    return f"{prefix}cache:course:{org_id}:{course_id}"


def course_summary(course: Course) -> CourseSummary:
    return CourseSummary(
        id=course.id,
        slug=course.slug,
        title=course.title,
        summary=course.summary,
        level=course.level,
        tags=list(course.tags),
        estimated_hours=course.estimated_hours,
    )


def course_open_to(principal: Principal) -> ColumnElement[bool]:
    """Who may open a course: anyone in the org while it is published; once an admin unpublishes it (issue
    17), the learners already enrolled keep it, and staff still see it. The catalogue lists published only."""
    if principal.is_staff:
        return true()
    enrolled = exists().where(Enrollment.course_id == Course.id, Enrollment.user_id == principal.user_id)
    return or_(Course.is_published.is_(True), enrolled)


@dataclass(eq=False, repr=False, kw_only=True)
class CourseService(TenantService):
    """Reads the caller's tenant and the outline cache (the fail-fast Redis client); nothing else."""

    cache: Redis
    settings: Settings

    async def list_published(self, page: LimitOffset, search: str | None) -> OffsetPagination[CourseSummary]:
        query = select(Course).where(Course.is_published.is_(True))
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            query = query.where(
                or_(Course.title.ilike(pattern), Course.summary.ilike(pattern), Course.slug.ilike(pattern))
            )
        # Hand-written Core on this hot path (every learner's catalogue), not a repository service: in
        # benchmarks/listings.py the repository service's list_and_count + to_schema served 0.84-0.86x the
        # pages/s of this query with hand-built Structs (ADR 0009).
        async with self._tx() as session:
            rows, result = await fetch_page(session, query.order_by(Course.title, Course.id), page)
            return paginated([course_summary(c) for c in rows], result)

    async def detail(self, course_id: UUID) -> CourseDetail:
        """The course outline, shared by the org and read through a Redis cache keyed by org (so the cache
        is tenant-safe too), plus the caller's own enrollment read under row-level security (never cached).

        The hot path (outline cached) reads the enrollment in one round trip (app/db/reads.py): the tenant is
        set and the row read in one statement, no SQLAlchemy session. A cache miss builds the outline in an
        RLS transaction and reads the enrollment in the same transaction."""
        key = course_cache_key(self.settings.redis_key_prefix, self.principal.org_id, course_id)
        cached = await self._cache_get(key)
        if cached is not None:
            outline = _outlines.decode(key, cached)
            row = await self.db.read_row("lyceum_read_enrollment", course_id)
            enrollment = None if row is None else EnrollmentState(id=row[0], status=row[1])
        else:
            async with self._tx() as session:
                outline, published = await self._load_detail(session, course_id)
                found = (
                    await session.execute(
                        select(Enrollment.id, Enrollment.status).where(
                            Enrollment.course_id == course_id, Enrollment.user_id == self.principal.user_id
                        )
                    )
                ).first()
            enrollment = None if found is None else EnrollmentState(id=found.id, status=found.status)
            # Only a published outline is shared through the cache: an unpublished one is for its enrolled
            # learners, checked on every read (the visibility change drops the cached copy).
            if published:
                with contextlib.suppress(RedisError):  # a cache that cannot be written is only a slower cache
                    await self.cache.set(key, _encoder.encode(outline), ex=self.settings.course_cache_seconds)
        if enrollment is None:
            return outline
        if enrollment.status == "active" and not self.principal.is_staff and outline.version > 1:
            outline = await self._as_enrolled(course_id, outline)
        return msgspec.structs.replace(outline, enrollment=enrollment)

    async def _as_enrolled(self, course_id: UUID, outline: CourseDetail) -> CourseDetail:
        """The outline of the version the caller is on, when it is an older recorded one; else ``outline``.
        Skipped without a read for a course known to have no older version (in-process, final)."""
        if has_no_older_version(course_id, outline.version):
            return outline
        async with self._tx() as session:
            pinned = await self._learner_version(session, course_id, outline.version)
        return outline if pinned is None else version_outline(outline, *pinned)

    async def _learner_version(
        self, session: AsyncSession, course_id: UUID, live_version: int
    ) -> tuple[CourseSpec, int] | None:
        """The parsed course and number of the older published version the caller's active enrolment is on,
        or None (on the latest, not enrolled, enrolled before versions were recorded, no source stored)."""
        row = (
            await session.execute(
                select(
                    Enrollment.course_version,
                    exists().where(CourseVersion.course_id == course_id, CourseVersion.version < live_version),
                ).where(
                    Enrollment.course_id == course_id,
                    Enrollment.user_id == self.principal.user_id,
                    Enrollment.status == "active",
                )
            )
        ).first()
        if row is None:
            return None
        version, older = row
        if not older:
            remember_no_older_version(course_id, live_version)
            return None
        if version is None or version >= live_version:
            return None
        course = cached_version(course_id, version)
        if course is None:
            source = await session.scalar(
                select(CourseVersion.source).where(
                    CourseVersion.course_id == course_id, CourseVersion.version == version
                )
            )
            if source is None:  # a version from before sources were recorded (a seeded course): the latest
                return None
            course = parse_version(course_id, version, source)
        return None if isinstance(course, Unparsable) else (course, version)

    async def _cache_get(self, key: str) -> bytes | None:
        # The fail-fast client: a hung Redis costs this read at most its short timeout (app/lib/redis.py).
        # Coalesced: the outline reads of concurrent requests go as one MGET (app/lib/coalesce.py).
        try:
            cached: bytes | None = (await coalesced(self.cache).mget(key))[0]
        except RedisError:
            return None  # Redis down: read through to PostgreSQL
        return cached

    async def _load_detail(self, session: AsyncSession, course_id: UUID) -> tuple[CourseDetail, bool]:
        # Core rows, not ORM objects: the outline is built straight from the columns it shows (issue 15).
        course = (
            await session.execute(
                select(
                    Course.id,
                    Course.slug,
                    Course.title,
                    Course.summary,
                    Course.description,
                    Course.level,
                    Course.tags,
                    Course.estimated_hours,
                    Course.version,
                    Course.is_published,
                ).where(Course.id == course_id, course_open_to(self.principal))
            )
        ).first()
        if course is None:
            raise NotFound("No such course in your organization")
        modules = (
            await session.execute(
                select(
                    CourseModule.id, CourseModule.slug, CourseModule.title, CourseModule.summary, CourseModule.position
                )
                .where(CourseModule.course_id == course_id)
                .order_by(CourseModule.position)
            )
        ).all()
        items = (
            await session.execute(
                select(
                    Item.id,
                    Item.module_id,
                    Item.slug,
                    Item.kind,
                    Item.title,
                    Item.bloom_level,
                    Item.position,
                    Item.estimated_minutes,
                )
                .where(Item.course_id == course_id)
                .order_by(Item.position)
            )
        ).all()
        competencies = (
            await session.execute(
                select(Competency.id, Competency.slug, Competency.name, Competency.description)
                .where(Competency.course_id == course_id)
                .order_by(Competency.slug)
            )
        ).all()
        item_ids = [i.id for i in items]
        prereqs, skills = await self._edges(session, item_ids)
        gates = await self._requirements(session, item_ids)
        by_module: dict[UUID, list[ItemOutline]] = defaultdict(list)
        for i in items:
            by_module[i.module_id].append(
                ItemOutline(
                    id=i.id,
                    slug=i.slug,
                    kind=i.kind,
                    title=i.title,
                    bloom_level=i.bloom_level,
                    position=i.position,
                    estimated_minutes=i.estimated_minutes,
                    prerequisites=prereqs[i.id],
                    competencies=skills[i.id],
                    requires=gates.get(i.id, []),
                )
            )
        detail = CourseDetail(
            id=course.id,
            slug=course.slug,
            title=course.title,
            summary=course.summary,
            description=course.description,
            level=course.level,
            tags=list(course.tags),
            estimated_hours=course.estimated_hours,
            version=course.version,
            competencies=[
                CompetencyOut(id=c.id, slug=c.slug, name=c.name, description=c.description) for c in competencies
            ],
            modules=[
                ModuleOutline(
                    id=m.id, slug=m.slug, title=m.title, summary=m.summary, position=m.position, items=by_module[m.id]
                )
                for m in modules
            ],
        )
        return detail, course.is_published

    @staticmethod
    async def _edges(
        session: AsyncSession, item_ids: list[UUID]
    ) -> tuple[dict[UUID, list[UUID]], dict[UUID, list[UUID]]]:
        prereqs: dict[UUID, list[UUID]] = defaultdict(list)
        skills: dict[UUID, list[UUID]] = defaultdict(list)
        for item_id, prerequisite_id in await session.execute(
            select(ItemPrerequisite.item_id, ItemPrerequisite.prerequisite_id).where(
                ItemPrerequisite.item_id.in_(item_ids)
            )
        ):
            prereqs[item_id].append(prerequisite_id)
        for item_id, competency_id in await session.execute(
            select(ItemCompetency.item_id, ItemCompetency.competency_id).where(ItemCompetency.item_id.in_(item_ids))
        ):
            skills[item_id].append(competency_id)
        return prereqs, skills

    @staticmethod
    async def _requirements(session: AsyncSession, item_ids: list[UUID]) -> dict[UUID, list[RequirementOut]]:
        gates: dict[UUID, list[RequirementOut]] = defaultdict(list)
        for item_id, competency_id, mastery in await session.execute(
            select(ItemRequirement.item_id, ItemRequirement.competency_id, ItemRequirement.mastery)
            .where(ItemRequirement.item_id.in_(item_ids))
            .order_by(ItemRequirement.item_id, ItemRequirement.competency_id)
        ):
            gates[item_id].append(RequirementOut(competency_id=competency_id, mastery=mastery))
        return gates

    async def item(self, course_id: UUID, item_id: UUID) -> ItemDetail:
        async with self._tx() as session:
            found = (
                await session.execute(
                    select(Item, Course.version)
                    .join(Course, Course.id == Item.course_id)
                    .where(Item.id == item_id, Item.course_id == course_id, course_open_to(self.principal))
                )
            ).first()
            if found is None:
                raise NotFound("No such item in this course")
            item, live_version = found
            pinned = None
            if not self.principal.is_staff and live_version > 1 and not has_no_older_version(course_id, live_version):
                pinned = await self._learner_version(session, course_id, live_version)
            prereqs, _ = await self._edges(session, [item.id])
            if not self.principal.is_staff:
                # A competency gate closes the item to a learner until their mastery reaches it (staff
                # preview everything). Prerequisites are shown as locked, not refused, as before.
                missing = await unmet_requirements(session, self.principal.user_id, [item.id])
                if missing:
                    raise gate_conflict(missing[item.id])
            gates = await self._requirements(session, [item.id])
            if pinned is not None:
                return await self._version_item(session, item, *pinned, requires=gates.get(item.id, []))
            return ItemDetail(
                id=item.id,
                course_id=item.course_id,
                module_id=item.module_id,
                slug=item.slug,
                kind=item.kind,
                title=item.title,
                bloom_level=item.bloom_level,
                estimated_minutes=item.estimated_minutes,
                body=item.body,
                prerequisites=prereqs[item.id],
                requires=gates.get(item.id, []),
            )

    @staticmethod
    async def _version_item(
        session: AsyncSession, item: Item, course: CourseSpec, version: int, *, requires: list[RequirementOut]
    ) -> ItemDetail:
        """``item`` as version ``version`` of its course has it (title, body, module, prerequisites); 404 for an
        item added after that version."""
        spec = next(((m, i) for m, i in course.all_items() if i.slug == item.slug), None)
        if spec is None:
            raise NotFound(
                f"This item is not in version {version} of the course, which you are on; "
                "your instructor can move you to the latest"
            )
        module, shown = spec
        prerequisites = select(Item.slug, Item.id).where(
            Item.course_id == item.course_id, Item.slug.in_(shown.prerequisites)
        )
        live_items = {slug: item_id for slug, item_id in (await session.execute(prerequisites)).tuples()}
        module_id = await session.scalar(
            select(CourseModule.id).where(CourseModule.course_id == item.course_id, CourseModule.slug == module.slug)
        )
        return ItemDetail(
            id=item.id,
            course_id=item.course_id,
            module_id=module_id or derived_id(item.course_id, "module", module.slug),
            slug=item.slug,
            kind=shown.kind,
            title=shown.title,
            bloom_level=shown.bloom_level,
            estimated_minutes=shown.estimated_minutes,
            body=shown.body,
            prerequisites=[live_items[p] for p in shown.prerequisites if p in live_items],
            requires=requires,
        )
