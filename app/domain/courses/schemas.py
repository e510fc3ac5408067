from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class CourseSummary(msgspec.Struct):
    id: UUID
    slug: str
    title: str
    summary: str
    level: str
    tags: list[str]
    estimated_hours: int


class CompetencyOut(msgspec.Struct):
    id: UUID
    slug: str
    name: str
    description: str


class RequirementOut(msgspec.Struct):
    """A competency gate of an item: mastery of ``competency_id`` must reach ``mastery`` (0-1)."""

    competency_id: UUID
    mastery: float


class ItemOutline(msgspec.Struct):
    id: UUID
    slug: str
    kind: str
    title: str
    bloom_level: str
    position: int
    estimated_minutes: int
    prerequisites: list[UUID]
    competencies: list[UUID]
    requires: list[RequirementOut] = []  # competency gates (docs/adaptive.md "Competency gates")


class ModuleOutline(msgspec.Struct):
    id: UUID
    slug: str
    title: str
    summary: str
    position: int
    items: list[ItemOutline]


class EnrollmentState(msgspec.Struct):
    id: UUID
    status: str


class CourseDetail(msgspec.Struct):
    id: UUID
    slug: str
    title: str
    summary: str
    description: str
    level: str
    tags: list[str]
    estimated_hours: int
    version: int
    competencies: list[CompetencyOut]
    modules: list[ModuleOutline]
    enrollment: EnrollmentState | None = None  # the caller's, never cached
    # Set only for a learner on an older published version (``version`` is theirs): the course's latest.
    latest_version: int | None = None


class ItemDetail(msgspec.Struct):
    id: UUID
    course_id: UUID
    module_id: UUID
    slug: str
    kind: str
    title: str
    bloom_level: str
    estimated_minutes: int
    body: str
    prerequisites: list[UUID]
    requires: list[RequirementOut] = []


class EnrollmentOut(msgspec.Struct):
    """An enrollment as the API shows it (written by app/domain/progress/enrollments.py; defined here so the
    OpenAPI document keeps its schema name)."""

    id: UUID
    course_id: UUID
    user_id: UUID
    status: str
    created_at: datetime
    completed_at: datetime | None = None
    course_title: str = ""
    total_items: int = 0
    completed_items: int = 0
    percent: int = 0  # 0-100 of the course's items done
