"""Course authoring: an instructor's draft (the YAML as saved, validated like ``lyceum courses validate``),
its learner preview and diff, and publish, which writes the live rows with the seed's course writer in one
transaction, records an immutable ``course_versions`` row and the audit entry, then re-indexes search.

A draft lives in ``course_drafts`` only: learners read the live rows (catalogue, enrolment, search,
recommendations all filter on them), so nothing of a draft reaches them before it is published."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Queue
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.content.loader import parse_course_text
from app.content.schema import Course as CourseSpec
from app.db.models import (
    Assessment,
    Competency,
    Course,
    CourseDraft,
    CourseModule,
    CourseVersion,
    Enrollment,
    Item,
    Organization,
    Submission,
)
from app.domain.audit.services import record_audit_by
from app.domain.authoring.preview_tutor import PreviewMaterial
from app.domain.authoring.schemas import (
    AuthoringCourse,
    CourseDiff,
    CoursePreview,
    DraftCreated,
    DraftDetail,
    DraftStatus,
    ItemChange,
    MigrationReport,
    PreviewItem,
    Published,
    ValidationOk,
)
from app.domain.base import TenantService
from app.domain.courses.schemas import CompetencyOut, CourseDetail, ItemOutline, ModuleOutline, RequirementOut
from app.domain.courses.services import course_cache_key
from app.domain.courses.writer import write_course
from app.domain.search.indexer import enqueue_index_course
from app.domain.tutor.draft_context import context_from_spec
from app.domain.tutor.prompts import PromptRegistry
from app.domain.tutor.providers.base import Mode
from app.domain.tutor.services import budget_limits
from app.lib.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed

log = structlog.get_logger("lyceum.authoring")

COURSE_FIELDS = ("title", "summary", "description", "level", "tags", "estimated_hours", "competencies", "credential")


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def validated(raw: bytes | str, max_bytes: int) -> tuple[CourseSpec, str]:
    """The course and its text, or ValidationFailed listing every problem as ``{path, line, message}``."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise PayloadTooLarge(f"A course file may be at most {max_bytes // 1024} KB (this one is {size // 1024} KB)")
    course, errors = parse_course_text(raw)
    if errors or course is None:
        problems = [{"path": e.path, "line": e.line, "message": e.reason} for e in errors]
        raise ValidationFailed(
            f"The course has {len(problems)} problem{'s' if len(problems) != 1 else ''}: {problems[0]['message']}",
            errors=problems,
        )
    return course, raw.decode() if isinstance(raw, bytes) else raw


def _dump(value: Any) -> Any:
    return msgspec.to_builtins(value)


def course_diff(new: CourseSpec, old: CourseSpec | None, base_version: int | None) -> CourseDiff:
    """Items added, removed and changed (by slug) and the course fields changed, against ``old``."""
    new_items = {item.slug: item for _, item in new.all_items()}
    new_modules = {item.slug: module.slug for module, item in new.all_items()}
    if old is None:
        added = [ItemChange(slug, item.title) for slug, item in new_items.items()]
        return CourseDiff(None, added, [], [], [], unchanged=False)
    old_items = {item.slug: item for _, item in old.all_items()}
    old_modules = {item.slug: module.slug for module, item in old.all_items()}
    added = [ItemChange(slug, item.title) for slug, item in new_items.items() if slug not in old_items]
    removed = [ItemChange(slug, item.title) for slug, item in old_items.items() if slug not in new_items]
    changed: list[ItemChange] = []
    for slug, item in new_items.items():
        before = old_items.get(slug)
        if before is None:
            continue
        after_fields, before_fields = _dump(item), _dump(before)
        fields = sorted(
            k for k in after_fields.keys() | before_fields.keys() if after_fields.get(k) != before_fields.get(k)
        )
        if new_modules[slug] != old_modules[slug]:
            fields.append("module")
        if fields:
            changed.append(ItemChange(slug, item.title, fields))
    course_fields = [f for f in COURSE_FIELDS if _dump(getattr(new, f)) != _dump(getattr(old, f))]
    if [m.slug for m in new.modules] != [m.slug for m in old.modules] or any(
        (m.title, m.summary) != (o.title, o.summary) for m, o in zip(new.modules, old.modules, strict=False)
    ):
        course_fields.append("modules")
    unchanged = not (added or removed or changed or course_fields)
    return CourseDiff(base_version, added, removed, changed, course_fields, unchanged)


def preview_of(draft_id: UUID, course: CourseSpec, version: int) -> tuple[CourseDetail, list[PreviewItem]]:
    """The learner's outline and items of ``course``, with ids derived from the draft and each slug."""

    def pid(kind: str, slug: str) -> UUID:
        return uuid.uuid5(draft_id, f"{kind}:{slug}")

    course_id = pid("course", course.slug)
    item_ids = {item.slug: pid("item", item.slug) for _, item in course.all_items()}
    competency_ids = {c.slug: pid("competency", c.slug) for c in course.competencies}
    modules: list[ModuleOutline] = []
    items: list[PreviewItem] = []
    position = 0
    for m_pos, module in enumerate(course.modules):
        module_id = pid("module", module.slug)
        outlines: list[ItemOutline] = []
        for item in module.items:
            prerequisites = [item_ids[p] for p in item.prerequisites if p in item_ids]
            outlines.append(
                ItemOutline(
                    id=item_ids[item.slug],
                    slug=item.slug,
                    kind=item.kind,
                    title=item.title,
                    bloom_level=item.bloom_level,
                    position=position,
                    estimated_minutes=item.estimated_minutes,
                    prerequisites=prerequisites,
                    competencies=[competency_ids[c] for c in item.competencies if c in competency_ids],
                    requires=[
                        RequirementOut(competency_ids[r.competency], r.mastery)
                        for r in item.requires
                        if r.competency in competency_ids
                    ],
                )
            )
            items.append(
                PreviewItem(
                    id=item_ids[item.slug],
                    course_id=course_id,
                    module_id=module_id,
                    slug=item.slug,
                    kind=item.kind,
                    title=item.title,
                    bloom_level=item.bloom_level,
                    estimated_minutes=item.estimated_minutes,
                    body=item.body,
                    prerequisites=prerequisites,
                    assessment_type=_dump(item.assessment)["type"] if item.assessment is not None else None,
                )
            )
            position += 1
        modules.append(ModuleOutline(module_id, module.slug, module.title, module.summary, m_pos, outlines))
    detail = CourseDetail(
        id=course_id,
        slug=course.slug,
        title=course.title,
        summary=course.summary,
        description=course.description,
        level=course.level,
        tags=list(course.tags),
        estimated_hours=course.estimated_hours,
        version=version,
        competencies=[
            CompetencyOut(competency_ids[c.slug], c.slug, c.name, c.description) for c in course.competencies
        ],
        modules=modules,
    )
    return detail, items


@dataclass(eq=False, repr=False, kw_only=True)
class AuthoringService(TenantService):
    settings: Settings
    queue: Queue
    cache: Redis

    # ------------------------------------------------------------------ reads

    async def list_courses(self) -> list[AuthoringCourse]:
        async with self._tx() as session:
            drafts = list(await session.scalars(select(CourseDraft).order_by(CourseDraft.title, CourseDraft.id)))
            rows = []
            for draft in drafts:
                status, published = await self._status(session, draft)
                rows.append(
                    AuthoringCourse(
                        draft.id, draft.slug, draft.title, status, published, draft.course_id, draft.updated_at
                    )
                )
            return rows

    async def get(self, draft_id: UUID) -> DraftDetail:
        async with self._tx() as session:
            draft = await self._draft(session, draft_id)
            status, published = await self._status(session, draft)
            return DraftDetail(
                id=draft.id,
                slug=draft.slug,
                title=draft.title,
                status=status,
                version=(published or 0) + 1,
                published_version=published,
                course_id=draft.course_id,
                source=draft.source,
                updated_at=draft.updated_at,
            )

    def validate(self, raw: bytes) -> ValidationOk:
        course, _ = validated(raw, self.settings.authoring_max_yaml_bytes)
        return ValidationOk(True, course.slug, course.title)

    async def diff(self, draft_id: UUID) -> CourseDiff:
        async with self._tx() as session:
            draft = await self._draft(session, draft_id)
            return await self._diff(session, draft, validated(draft.source, self.settings.authoring_max_yaml_bytes)[0])

    async def preview(self, draft_id: UUID) -> CoursePreview:
        """Built from the draft alone: nobody is enrolled and no live row is read or written."""
        async with self._tx() as session:
            draft = await self._draft(session, draft_id)
            course, _ = validated(draft.source, self.settings.authoring_max_yaml_bytes)
            status, published = await self._status(session, draft)
            version = (published or 0) + 1
            detail, items = preview_of(draft.id, course, version)
            return CoursePreview(draft.id, status, version, detail, items, await self._diff(session, draft, course))

    async def preview_material(
        self, draft_id: UUID, item_id: UUID, mode: Mode, prompts: PromptRegistry
    ) -> PreviewMaterial:
        """What the preview's tutor needs for the draft's item ``item_id`` (an id the preview returned): its
        material from the draft alone, the org's budgets and the caller's version of the learners' prompt.
        Reads only (the draft, the org, its budgets and prompt overrides); 404 for another org's draft."""
        async with self._tx() as session:
            draft = await self._draft(session, draft_id)
            course, _ = validated(draft.source, self.settings.authoring_max_yaml_bytes)
            _, items = preview_of(draft.id, course, 1)  # item ids do not depend on the version
            slug = next((item.slug for item in items if item.id == item_id), None)
            if slug is None:
                message = "The draft has no such item; use an item id from its preview"
                raise ValidationFailed(message, errors=[{"pointer": "#/item_id", "detail": message}])
            org = await session.get(Organization, self.principal.org_id)
            limits = await budget_limits(session, self.settings)
            overrides = await prompts.overrides(session, "tutor")
        return PreviewMaterial(
            org_id=self.principal.org_id,
            org_slug=org.slug if org is not None else "",
            user_id=self.principal.user_id,
            draft_id=draft.id,
            item_slug=slug,
            context=context_from_spec(course, slug, mode),
            limits=limits,
            chosen=prompts.choose_from("tutor", self.principal.user_id, overrides),
        )

    # ------------------------------------------------------------------ writes

    async def create(self, raw: bytes) -> DraftCreated:
        course, source = validated(raw, self.settings.authoring_max_yaml_bytes)
        async with self._tx() as session:
            await self._check_slug(session, course.slug, draft_id=None)
            draft = CourseDraft(
                org_id=self.principal.org_id,
                slug=course.slug,
                title=course.title,
                source=source,
                content_hash=source_hash(source),
                course_id=None,
                updated_by=self.principal.user_id,
            )
            session.add(draft)
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="course_draft.created",
                entity_type="course_draft",
                entity_id=draft.id,
                after={"slug": draft.slug, "title": draft.title, "content_hash": draft.content_hash},
                request_id=self.request_id,
            )
            return DraftCreated(draft.id, draft.slug, "draft", 1)

    async def replace(self, draft_id: UUID, raw: bytes) -> DraftCreated:
        course, source = validated(raw, self.settings.authoring_max_yaml_bytes)
        async with self._tx() as session:
            draft = await self._draft(session, draft_id, lock=True)
            if course.slug != draft.slug:
                if draft.course_id is not None:
                    raise Conflict(
                        f"A published course keeps its slug: this one is `{draft.slug}` (learners' links and "
                        "progress use it)",
                        errors=[{"path": "slug", "line": None, "message": f"keep the slug `{draft.slug}`"}],
                    )
                await self._check_slug(session, course.slug, draft_id=draft.id)
            before = {"slug": draft.slug, "title": draft.title, "content_hash": draft.content_hash}
            draft.slug, draft.title, draft.source = course.slug, course.title, source
            draft.content_hash = source_hash(source)
            draft.updated_by = self.principal.user_id
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="course_draft.updated",
                entity_type="course_draft",
                entity_id=draft.id,
                before=before,
                after={"slug": draft.slug, "title": draft.title, "content_hash": draft.content_hash},
                request_id=self.request_id,
            )
            status, published = await self._status(session, draft)
            return DraftCreated(draft.id, draft.slug, status, (published or 0) + 1)

    async def publish(self, draft_id: UUID) -> Published:
        org_id = self.principal.org_id
        async with self._tx() as session:
            draft = await self._draft(session, draft_id, lock=True)  # two publishes of one draft queue up here
            course, _ = validated(draft.source, self.settings.authoring_max_yaml_bytes)
            await self._check_elsewhere(session, course.slug)
            previous = await self._latest_version(session, draft)
            if previous is not None and previous.content_hash == draft.content_hash:
                raise Conflict(f"Nothing to publish: version {previous.version} already has this content")
            written = await write_course(await session.connection(), org_id, course, None)
            if not written.written:
                raise Conflict("Nothing to publish: the live course already has this content")
            removed = await self._remove_dropped(session, written.course_id, course)
            session.add(
                CourseVersion(
                    org_id=org_id,
                    course_id=written.course_id,
                    version=written.version,
                    source=draft.source,
                    content_hash=draft.content_hash,
                    item_slugs=[item.slug for _, item in course.all_items()],
                    published_by=self.principal.user_id,
                )
            )
            draft.course_id = written.course_id
            record_audit_by(
                session,
                self.principal,
                action="course.published",
                entity_type="course",
                entity_id=written.course_id,
                before={"version": previous.version} if previous is not None else None,
                after={
                    "version": written.version,
                    "slug": course.slug,
                    "content_hash": draft.content_hash,
                    "removed_items": removed,
                },
                request_id=self.request_id,
            )
        await self._after_publish(written.course_id, written.content_hash)
        return Published(written.version, written.course_id, removed)

    async def migrate(self, draft_id: UUID) -> MigrationReport:
        """Move the course's active learners on an older version (or on none recorded) to the latest one,
        reporting the items their versions had that the latest has not."""
        async with self._tx() as session:
            draft = await self._draft(session, draft_id, lock=True)
            latest = await self._latest_version(session, draft)
            if latest is None or draft.course_id is None:
                raise Conflict("The course has not been published yet: nobody is learning it")
            behind = (
                Enrollment.course_id == draft.course_id,
                Enrollment.status == "active",
                or_(Enrollment.course_version.is_(None), Enrollment.course_version < latest.version),
            )
            counts = (
                await session.execute(
                    select(Enrollment.course_version, func.count()).where(*behind).group_by(Enrollment.course_version)
                )
            ).all()
            versions = sorted({row[0] for row in counts if row[0] is not None})
            old = await session.scalars(
                select(CourseVersion.item_slugs).where(
                    CourseVersion.course_id == draft.course_id, CourseVersion.version.in_(versions)
                )
            )
            keep = set(latest.item_slugs)
            removed = sorted({slug for slugs in old for slug in slugs if slug not in keep})
            migrated = sum(int(row[1]) for row in counts)
            await session.execute(update(Enrollment).where(*behind).values(course_version=latest.version))
            from_versions: list[int | None] = [*versions, *([None] if any(r[0] is None for r in counts) else [])]
            record_audit_by(
                session,
                self.principal,
                action="course.learners_migrated",
                entity_type="course",
                entity_id=draft.course_id,
                after={"version": latest.version, "migrated": migrated, "removed_items": removed},
                request_id=self.request_id,
            )
            return MigrationReport(latest.version, migrated, from_versions, removed)

    # ------------------------------------------------------------------ helpers

    async def _draft(self, session: AsyncSession, draft_id: UUID, *, lock: bool = False) -> CourseDraft:
        query = select(CourseDraft).where(CourseDraft.id == draft_id)
        draft = await session.scalar(query.with_for_update() if lock else query)
        if draft is None:
            raise NotFound("No such course draft in your organization")
        return draft

    async def _latest_version(self, session: AsyncSession, draft: CourseDraft) -> CourseVersion | None:
        if draft.course_id is None:
            return None
        return await session.scalar(
            select(CourseVersion)
            .where(CourseVersion.course_id == draft.course_id)
            .order_by(CourseVersion.version.desc())
            .limit(1)
        )

    async def _status(self, session: AsyncSession, draft: CourseDraft) -> tuple[DraftStatus, int | None]:
        latest = await self._latest_version(session, draft)
        if latest is None:
            return "draft", None
        return ("published" if latest.content_hash == draft.content_hash else "changes_pending"), latest.version

    async def _diff(self, session: AsyncSession, draft: CourseDraft, course: CourseSpec) -> CourseDiff:
        latest = await self._latest_version(session, draft)
        if latest is None:
            return course_diff(course, None, None)
        old, _ = parse_course_text(latest.source)  # it validated when published; a rule added since may object
        return course_diff(course, old, latest.version)

    async def _check_slug(self, session: AsyncSession, slug: str, *, draft_id: UUID | None) -> None:
        """409 when ``slug`` is another draft's or live course's of this org, or used by another org."""
        other_draft = await session.scalar(select(CourseDraft.id).where(CourseDraft.slug == slug))
        if other_draft is not None and other_draft != draft_id:
            raise Conflict(
                f"Another course draft of your organization already uses the slug `{slug}`",
                errors=[{"path": "slug", "line": None, "message": f"the slug `{slug}` is taken in your organization"}],
            )
        live = await session.scalar(select(Course.id).where(Course.slug == slug))
        if live is not None:
            raise Conflict(
                f"A course of your organization already uses the slug `{slug}`",
                errors=[{"path": "slug", "line": None, "message": f"the slug `{slug}` is taken in your organization"}],
            )
        await self._check_elsewhere(session, slug)

    async def _check_elsewhere(self, session: AsyncSession, slug: str) -> None:
        taken = await session.scalar(
            text("select lyceum_course_slug_taken_elsewhere(:slug, :org)"),
            {"slug": slug, "org": self.principal.org_id},
        )
        if taken:
            raise Conflict(
                f"The slug `{slug}` is used by a course of another organization; choose another",
                errors=[{"path": "slug", "line": None, "message": f"the slug `{slug}` is taken"}],
            )

    async def _remove_dropped(self, session: AsyncSession, course_id: UUID, course: CourseSpec) -> list[str]:
        """Live items, modules and competencies the new version no longer has. An item with learners'
        submissions is not deleted (that would delete their work): the publish is refused instead."""
        keep = {item.slug for _, item in course.all_items()}
        dropped = {
            row.slug: row.id
            for row in (await session.execute(select(Item.slug, Item.id).where(Item.course_id == course_id))).all()
            if row.slug not in keep
        }
        if dropped:
            answered = list(
                await session.scalars(
                    select(Item.slug)
                    .join(Assessment, Assessment.item_id == Item.id)
                    .join(Submission, Submission.assessment_id == Assessment.id)
                    .where(Item.id.in_(dropped.values()))
                    .group_by(Item.slug)
                    .having(func.count(Submission.id) > 0)
                )
            )
            if answered:
                raise Conflict(
                    "These items have learners' submissions and cannot be removed yet: " + ", ".join(sorted(answered)),
                    errors=[
                        {"path": "modules", "line": None, "message": f"item `{slug}` has learners' submissions"}
                        for slug in sorted(answered)
                    ],
                )
            await session.execute(delete(Item).where(Item.id.in_(dropped.values())))
        await session.execute(
            delete(CourseModule).where(
                CourseModule.course_id == course_id, CourseModule.slug.not_in([m.slug for m in course.modules])
            )
        )
        await session.execute(
            delete(Competency).where(
                Competency.course_id == course_id, Competency.slug.not_in([c.slug for c in course.competencies])
            )
        )
        return sorted(dropped)

    async def _after_publish(self, course_id: UUID, content_hash: str) -> None:
        """Best effort once committed: the outline cache forgets the old content (it would expire within
        LYCEUM_COURSE_CACHE_SECONDS anyway) and the worker re-indexes search (search answers from full
        text meanwhile; ``lyceum index rebuild`` repairs a lost job)."""
        org_id = self.principal.org_id
        with contextlib.suppress(RedisError, OSError):
            await self.cache.delete(course_cache_key(self.settings.redis_key_prefix, org_id, course_id))
        try:
            await enqueue_index_course(self.queue, org_id, course_id, content_hash)
        except (RedisError, OSError) as exc:
            log.warning("index_enqueue_failed", course_id=str(course_id), error=f"{type(exc).__name__}: {exc}")


__all__ = ["AuthoringService", "course_diff", "preview_of", "validated"]
