"""What a learner on an older published version of a course sees (issue 17): the outline and items of the
version they enrolled in, built from that version's stored YAML (``course_versions.source``) and the live rows.

Publishing replaces the live rows, but an active learner stays on the version their enrolment records until
they finish or an instructor migrates them. Their outline is the version's modules, items, titles, bodies and
order; each item keeps its live id (items are matched by slug and stay the same rows, so progress carries over).
Items added after their version are not in it. Items their version had that a later publish removed are left
out: removing deletes the live row (and is refused while learners have submissions on it), so there is nothing
left to open; the publish and the migration report them to the instructor (``removed_items``).

What stays live for everybody: assessments and their grading (one grader per item), competency gates (the
mastery rules enforced on the item), the tutor and recommendations.

A version's source never changes (an append-only trigger guards ``course_versions``), so its parsed course is
cached in-process per (course id, version); so is the fact that a course at a given live version has no
older recorded version (seeded courses, courses published once), which keeps their hot path free of the
extra read."""

from __future__ import annotations

import uuid
from typing import Generic, TypeVar
from uuid import UUID

from app.content.loader import parse_course_text
from app.content.schema import Course as CourseSpec
from app.domain.courses.schemas import CompetencyOut, CourseDetail, ItemOutline, ModuleOutline

CACHED_VERSIONS_MAX = 256
K = TypeVar("K")
V = TypeVar("V")


class _Bounded(Generic[K, V]):
    """A small in-process map of immutable values; past ``CACHED_VERSIONS_MAX`` keys the oldest goes."""

    def __init__(self) -> None:
        self._entries: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def put(self, key: K, value: V) -> V:
        if key not in self._entries and len(self._entries) >= CACHED_VERSIONS_MAX:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = value
        return value


class Unparsable:
    """A stored source that no longer decodes (a rule tightened since it was published): serve the latest."""


UNPARSABLE = Unparsable()
_parsed: _Bounded[tuple[UUID, int], CourseSpec | Unparsable] = _Bounded()
# (course id, live version) -> True when no older version is recorded: nobody can be pinned to one.
_without_older: _Bounded[tuple[UUID, int], bool] = _Bounded()


def cached_version(course_id: UUID, version: int) -> CourseSpec | Unparsable | None:
    """The parsed course of a version already read by this process (None: not read yet)."""
    return _parsed.get((course_id, version))


def parse_version(course_id: UUID, version: int, source: str) -> CourseSpec | Unparsable:
    """Parse a version's stored source with the course loader (the one YAML spec loader) and cache it. It
    validated when it was published; a rule added since may object, which does not stop it from being shown,
    but a source that no longer decodes at all is served as the latest."""
    course, _ = parse_course_text(source, f"course_versions/{course_id}/{version}")
    return _parsed.put((course_id, version), course if course is not None else UNPARSABLE)


def has_no_older_version(course_id: UUID, live_version: int) -> bool:
    return (course_id, live_version) in _without_older


def remember_no_older_version(course_id: UUID, live_version: int) -> None:
    """Versions are only ever added at the new live version, so the rows below ``live_version`` are final."""
    _without_older.put((course_id, live_version), True)


def derived_id(course_id: UUID, kind: str, slug: str) -> UUID:
    """A stable id for a module of an old version that the live course no longer has."""
    return uuid.uuid5(course_id, f"{kind}:{slug}")


def version_outline(live: CourseDetail, course: CourseSpec, version: int) -> CourseDetail:
    """The outline of ``course`` (version ``version``) with the live ids of what it shares with ``live``.
    ``live`` is the shared (cached) outline: only read, never changed."""
    live_items = {item.slug: item for module in live.modules for item in module.items}
    live_modules = {module.slug: module.id for module in live.modules}
    live_competencies = {competency.slug: competency.id for competency in live.competencies}
    item_ids = {slug: item.id for slug, item in live_items.items()}
    modules: list[ModuleOutline] = []
    position = 0
    for module in course.modules:
        outlines: list[ItemOutline] = []
        for item in module.items:
            shown = live_items.get(item.slug)
            if shown is None:  # removed by a later publish: no live row to open
                continue
            outlines.append(
                ItemOutline(
                    id=shown.id,
                    slug=item.slug,
                    kind=item.kind,
                    title=item.title,
                    bloom_level=item.bloom_level,
                    position=position,
                    estimated_minutes=item.estimated_minutes,
                    prerequisites=[item_ids[p] for p in item.prerequisites if p in item_ids],
                    competencies=[live_competencies[c] for c in item.competencies if c in live_competencies],
                    # The gates enforced when the item is opened are the live ones: show those.
                    requires=shown.requires,
                )
            )
            position += 1
        if outlines:
            module_id = live_modules.get(module.slug) or derived_id(live.id, "module", module.slug)
            modules.append(ModuleOutline(module_id, module.slug, module.title, module.summary, len(modules), outlines))
    return CourseDetail(
        id=live.id,
        slug=live.slug,
        title=course.title,
        summary=course.summary,
        description=course.description,
        level=course.level,
        tags=list(course.tags),
        estimated_hours=course.estimated_hours,
        version=version,
        competencies=[
            CompetencyOut(live_competencies[c.slug], c.slug, c.name, c.description)
            for c in course.competencies
            if c.slug in live_competencies
        ],
        modules=modules,
        latest_version=live.version,
    )


__all__ = [
    "UNPARSABLE",
    "Unparsable",
    "cached_version",
    "derived_id",
    "has_no_older_version",
    "parse_version",
    "remember_no_older_version",
    "version_outline",
]
