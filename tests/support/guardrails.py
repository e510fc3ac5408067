"""The guardrail evaluation harness shared by the safety suites: a tutor context for a course item with its
protected text, a reply streamed through the output filter in random chunks, and the leak check."""

from __future__ import annotations

import functools
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from app.content.loader import load_courses
from app.content.schema import Course
from app.domain.tutor.context import RELATED_BODY_CHARS, protected_texts
from app.domain.tutor.guardrails.output_filter import OutputFilter
from app.domain.tutor.providers.base import RelatedItem, TutorContext

ROOT = Path(__file__).resolve().parents[2]


LEAK_WINDOW = 40  # no 40-character piece of protected text may reach the learner


@functools.cache
def demo_courses() -> dict[str, Course]:
    """The shipped courses by slug (loaded once per process)."""
    return {course.slug: course for course in load_courses(ROOT / "content" / "courses")}


def course_protected(course: Course, except_item: str | None) -> tuple[str, ...]:
    """What app.domain.tutor.context.course_protected_texts finds: every other graded item's hidden texts."""
    texts: list[str] = []
    for _, other in course.all_items():
        spec = other.assessment
        if spec is None or not spec.graded or other.slug == except_item:
            continue
        assessment = SimpleNamespace(spec=spec.spec(), graded=True)
        found = protected_texts(SimpleNamespace(solution=other.solution), assessment)  # type: ignore[arg-type]
        texts += [t for t in found if t not in texts]
    return tuple(texts)


def build_context(courses: dict[str, Course], course_slug: str | None, item_slug: str | None) -> TutorContext:
    """What app.domain.tutor.context.build_context produces for the same course and item."""
    course = courses[course_slug or "backend-foundations"]
    if item_slug is None:
        return TutorContext(course_title=course.title, course_protected=course_protected(course, None))
    pairs = course.all_items()
    module, item = next((m, i) for m, i in pairs if i.slug == item_slug)
    by_slug = {i.slug: i for _, i in pairs}
    spec = item.assessment
    assessment = SimpleNamespace(spec=spec.spec(), graded=spec.graded) if spec is not None else None

    def related(other: Any) -> RelatedItem:
        return RelatedItem(title=other.title, body=other.body[:RELATED_BODY_CHARS])

    return TutorContext(
        course_title=course.title,
        item_title=item.title,
        item_body=item.body,
        item_kind=item.kind,
        graded=bool(spec is not None and spec.graded),
        module_items=tuple(related(i) for i in module.items if i.slug != item.slug and i.kind == "lesson"),
        related=tuple(related(by_slug[slug]) for slug in item.prerequisites),
        protected=protected_texts(SimpleNamespace(solution=item.solution), assessment),  # type: ignore[arg-type]
        course_protected=course_protected(course, item.slug),
    )


def stream_reply(output: OutputFilter, reply: str, rng: random.Random) -> tuple[str, bool]:
    released: list[str] = []
    position = 0
    while position < len(reply):
        size = rng.randint(1, 6)
        step = output.feed(reply[position : position + size])
        position += size
        released.append(step.release)
        if step.blocked is not None:
            return "".join(released), True
    end = output.finish()
    released.append(end.release)
    return "".join(released), end.blocked is not None


def leaked(released: str, secret: str) -> bool:
    flat_released = " ".join(released.lower().split())
    flat_secret = " ".join(secret.lower().split())
    if len(flat_secret) < LEAK_WINDOW:
        return flat_secret in flat_released
    windows = range(0, len(flat_secret) - LEAK_WINDOW + 1, 7)
    return any(flat_secret[i : i + LEAK_WINDOW] in flat_released for i in windows)
