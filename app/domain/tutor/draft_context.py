"""The tutor's material for an item of a parsed course file (an unpublished draft), with no database rows.

``context.build_material`` reads the live rows the course writer made from the same file; this builds the
same TutorContext from the parsed spec instead, field for field (the same protected texts, answer keys of
the course's other graded items, module lessons, prerequisites, hint ladder and misconceptions), so the
authoring preview's tutor answers and refuses exactly as the published course's tutor would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from app.content.loader import tutoring_of
from app.content.schema import Course as CourseSpec
from app.content.schema import Item as ItemSpec
from app.domain.tutor.context import RELATED_BODY_CHARS, protected_texts, tutoring_material
from app.domain.tutor.providers.base import Mode, RelatedItem, TutorContext


@dataclass(frozen=True, slots=True)
class _StoredAssessment:
    """An assessment as the course writer stores it (``assessments.spec`` is the whole spec as builtins)."""

    spec: dict[str, Any]
    graded: bool


def _assessment(item: ItemSpec) -> _StoredAssessment | None:
    if item.assessment is None:
        return None
    return _StoredAssessment(spec=msgspec.to_builtins(item.assessment), graded=item.assessment.graded)


def _related(item: ItemSpec) -> RelatedItem:
    return RelatedItem(title=item.title, body=item.body[:RELATED_BODY_CHARS])


def context_from_spec(spec: CourseSpec, item_slug: str, mode: Mode = "socratic") -> TutorContext:
    """The TutorContext of ``item_slug`` in ``spec`` in ``mode``; LookupError when the course has no such item."""
    found = next(((module, item) for module, item in spec.all_items() if item.slug == item_slug), None)
    if found is None:
        raise LookupError(f"no item {item_slug!r} in the course")
    module, item = found
    course_protected: list[str] = []
    for _, other in spec.all_items():  # document order is the live rows' position order
        stored = _assessment(other)
        if other.slug == item.slug or stored is None or not stored.graded:
            continue
        course_protected += [t for t in protected_texts(other, stored) if t not in course_protected]  # type: ignore[arg-type]
    assessment = _assessment(item)
    lessons = [i for i in module.items if i.slug != item.slug and i.kind == "lesson"]
    by_slug = {i.slug: i for _, i in spec.all_items()}
    prerequisites = [by_slug[slug] for slug in item.prerequisites if slug in by_slug]
    hints, misconceptions = tutoring_material({"tutoring": tutoring_of(spec)}, item, lessons + prerequisites)
    return TutorContext(
        course_title=spec.title,
        mode=mode,
        item_title=item.title,
        item_body=item.body,
        item_kind=item.kind,
        graded=bool(assessment is not None and assessment.graded),
        module_items=tuple(_related(i) for i in lessons),
        related=tuple(_related(i) for i in prerequisites),
        protected=protected_texts(item, assessment),  # type: ignore[arg-type]
        course_protected=tuple(course_protected),
        hints=hints,
        misconceptions=misconceptions,
    )


__all__ = ["context_from_spec"]
