"""Builds the TutorContext for a session from the course content in PostgreSQL (inside an RLS transaction)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AISession, Assessment, Course, Item, ItemPrerequisite
from app.domain.tutor.providers.base import Misconception, Mode, RelatedItem, TutorContext

RELATED_BODY_CHARS = 1500


def protected_texts(item: Item | None, assessment: Assessment | None) -> tuple[str, ...]:
    """Everything the tutor must never reveal: worked solutions, reference code, hidden tests, answer keys."""
    texts = [item.solution] if item is not None and item.solution else []
    spec: dict[str, Any] = assessment.spec if assessment is not None else {}
    for key in ("reference_solution", "hidden_tests"):
        if spec.get(key):
            texts.append(str(spec[key]))
    for question in spec.get("questions", []):
        options = question.get("options", [])
        answer = question.get("answer")
        if isinstance(answer, int) and 0 <= answer < len(options):
            texts.append(str(options[answer]))
    rubric = spec.get("rubric") or {}
    texts += [str(e) for e in rubric.get("exemplars", [])]
    return tuple(t for t in texts if t.strip())


async def course_protected_texts(session: AsyncSession, course_id: UUID, except_item: UUID | None) -> tuple[str, ...]:
    """The protected texts of every graded item of the course except ``except_item`` (the session's own).

    A learner in a lesson session asked about the module's quiz and the reply gave the quiz answer away:
    the output filter only knew the session item's material. The whole course's answer keys, reference
    solutions and hidden tests are now compared against every reply of every session in the course."""
    rows = (
        await session.execute(
            select(Item, Assessment)
            .join(Assessment, Assessment.item_id == Item.id)
            .where(Assessment.course_id == course_id, Assessment.graded.is_(True))
            .order_by(Item.position, Item.id)
        )
    ).all()
    texts: list[str] = []
    for item, assessment in rows:
        if item.id != except_item:
            texts += [t for t in protected_texts(item, assessment) if t not in texts]
    return tuple(texts)


async def build_context(session: AsyncSession, chat: AISession) -> TutorContext:
    context = await build_material(session, chat.course_id, chat.item_id)
    mode = _mode(chat.mode)
    return context if context.mode == mode else replace(context, mode=mode)


async def build_material(session: AsyncSession, course_id: UUID, item_id: UUID | None) -> TutorContext:
    """The tutor's material for a course item (shared by every session on it), in the default mode."""
    course = await session.get(Course, course_id)
    if course is None:
        raise LookupError("course not found")
    item = await session.get(Item, item_id) if item_id else None
    course_protected = await course_protected_texts(session, course.id, item.id if item is not None else None)
    if item is None:
        return TutorContext(course_title=course.title, course_protected=course_protected)
    assessment = await session.scalar(select(Assessment).where(Assessment.item_id == item.id))
    siblings = list(
        await session.scalars(
            select(Item).where(Item.module_id == item.module_id, Item.id != item.id).order_by(Item.position)
        )
    )
    prerequisite_ids = select(ItemPrerequisite.prerequisite_id).where(ItemPrerequisite.item_id == item.id)
    prerequisites = list(await session.scalars(select(Item).where(Item.id.in_(prerequisite_ids))))
    tutoring = tutoring_material(course.extra, item, [i for i in siblings if i.kind == "lesson"] + prerequisites)
    return TutorContext(
        course_title=course.title,
        item_title=item.title,
        item_body=item.body,
        item_kind=item.kind,
        graded=bool(assessment is not None and assessment.graded),
        module_items=tuple(_related(i) for i in siblings if i.kind == "lesson"),
        related=tuple(_related(i) for i in prerequisites),
        protected=protected_texts(item, assessment),
        course_protected=course_protected,
        hints=tutoring[0],
        misconceptions=tutoring[1],
    )


def tutoring_material(
    extra: dict[str, Any] | None, item: Any, around: list[Any]
) -> tuple[tuple[str, ...], tuple[Misconception, ...]]:
    """The item's hint ladder and the misconceptions of the item and the lessons ``around`` it, from the
    course's stored tutoring material (``courses.extra["tutoring"]``, written by the seed from the file).
    ``item`` and ``around`` need ``slug`` and ``title``; malformed entries are skipped, never fatal."""
    by_slug = (extra or {}).get("tutoring") or {}
    if not isinstance(by_slug, dict):
        return (), ()
    own = by_slug.get(item.slug) or {}
    hints = tuple(str(h) for h in own.get("hints", []) if isinstance(h, str) and h.strip())
    misconceptions: list[Misconception] = []
    for source in [item, *around]:
        for entry in (by_slug.get(source.slug) or {}).get("misconceptions", []):
            if isinstance(entry, dict) and entry.get("patterns") and entry.get("correction"):
                patterns = tuple(str(p) for p in entry["patterns"])
                misconceptions.append(
                    Misconception(patterns, str(entry["correction"]), str(entry.get("check") or ""), source.title)
                )
    return hints, tuple(misconceptions)


def _related(item: Item) -> RelatedItem:
    return RelatedItem(title=item.title, body=item.body[:RELATED_BODY_CHARS])


def mode_of(value: str) -> Mode:
    """A stored mode as the tutor knows it (anything unknown is the default, socratic)."""
    return "hint" if value == "hint" else "explain" if value == "explain" else "socratic"


_mode = mode_of


__all__ = [
    "UUID",
    "build_context",
    "build_material",
    "course_protected_texts",
    "mode_of",
    "protected_texts",
    "tutoring_material",
]
