"""Next best steps in a course and items related by meaning; both read the content index only through
``SearchService.rank`` (one retriever: the same embedding, fusion and Chroma fallback as ``GET /v1/search``).

The ranking itself is the pure :func:`app.domain.recommendations.ranking.recommend`; this module gathers
its inputs: the pathway (the course outline folded with the learner's progress, so prerequisite locks
are the ones the course player shows), the learner's recent tutor questions, their mastery
(:func:`weak_competencies`) and their spaced-review cards that are due (:func:`due_reviews`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

import msgspec
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AIInteraction, ContentChunk, Item, ProgressEvent
from app.domain.base import TenantService
from app.domain.courses.schemas import CourseDetail
from app.domain.courses.services import CourseService
from app.domain.mastery.gates import MissingCompetency, unmet_requirements
from app.domain.mastery.services import course_estimates
from app.domain.progress.ledger import completed_items
from app.domain.progress.services import fold_progress
from app.domain.recommendations.metrics import RECOMMENDATION_LATENCY
from app.domain.recommendations.ranking import (
    AskedQuestion,
    DueReview,
    PathwayItem,
    WeakCompetency,
    recommend,
)
from app.domain.recommendations.schemas import NextItem, NextItems, RelatedItem, RelatedItems
from app.domain.search.services import MAX_QUERY_CHARS, SearchService
from app.domain.spaced.services import due_competencies
from app.lib.errors import NotFound
from app.lib.objectstore import ObjectStore

log = structlog.get_logger("lyceum.recommendations")

RECENT_QUESTIONS = 5  # the learner's last tutor questions in the course that are read (bounded work)
QUESTION_MATCH_DEPTH = 3  # an item must be among a question's first few matches to answer it
RELATED_LIMIT = 5
# Below this estimate, a competency the learner has attempted counts as one they struggle with (BKT's
# conventional mastery line is 0.95; 0.6 keeps the reason for real trouble, not for "not yet mastered").
WEAK_MASTERY = 0.6
RELATED_QUERY_CHARS = 600  # the item's title and the start of its first passage make the query


async def weak_competencies(
    session: AsyncSession,
    user_id: UUID,
    course_id: UUID,
    events: Sequence[ProgressEvent],
    titles: Mapping[UUID, str],
) -> list[WeakCompetency]:
    """Competencies of the course with evidence (at least one attempt) whose mastery estimate is below
    ``WEAK_MASTERY``, lowest first, each with the title of the item of the learner's latest failed graded
    attempt on it (from the enrolment's ``events``, in order; "" when only exercises moved it)."""
    last_failed: dict[str, str] = {}
    for event in events:
        if event.type != "assessment.graded" or event.payload.get("passed", True):
            continue
        item_id = event.payload.get("item_id")
        title = titles.get(UUID(item_id), "") if isinstance(item_id, str) else ""
        for competency in event.payload.get("competencies") or []:
            last_failed[str(competency)] = title
    weak = [
        WeakCompetency(
            competency_id=m.competency_id,
            slug=m.slug,
            name=m.name,
            mastery=m.mastery,
            last_item_title=last_failed.get(str(m.competency_id), ""),
        )
        for m in await course_estimates(session, user_id, course_id)
        if m.attempts > 0 and m.mastery < WEAK_MASTERY
    ]
    return sorted(weak, key=lambda w: (w.mastery, w.slug))


async def due_reviews(session: AsyncSession, user_id: UUID, course_id: UUID) -> list[DueReview]:
    """The learner's spaced-review cards of ``course_id`` that are due, earliest first (the same cards the
    review page lists: ``app/domain/spaced``)."""
    due = await due_competencies(session, user_id, course_id)
    return [DueReview(competency_id=c, name=name, due_at=at) for c, name, at in due]


def pathway_of(
    outline: CourseDetail, done: set[UUID], gates: Mapping[UUID, list[MissingCompetency]] | None = None
) -> list[PathwayItem]:
    """The outline in course order with done/locked flags, locked exactly as the progress fold (and so the
    course player) marks an item: unfinished prerequisites or unmet competency gates (``gates``)."""
    states = {s.item_id: s.state for s in fold_progress(outline, None, done, gates).items}
    return [
        PathwayItem(
            item_id=item.id,
            title=item.title,
            kind=item.kind,
            done=states.get(item.id) == "done",
            locked=states.get(item.id) == "locked",
            competencies=tuple(item.competencies),
        )
        for module in outline.modules
        for item in module.items
    ]


@dataclass(eq=False, repr=False, kw_only=True)
class RecommendationService(TenantService):
    """For the caller: their course outlines (``courses``), the content index (``search``, which also knows
    their enrolments) and the object store holding tutor transcripts (``objects``)."""

    courses: CourseService
    search: SearchService
    objects: ObjectStore

    async def next_steps(self, course_id: UUID) -> NextItems:
        """Up to three next steps in a course the caller is enrolled in (404 otherwise, like search)."""
        started = time.perf_counter()
        outline = await self.courses.detail(course_id)  # 404: unknown course, another org's, unpublished
        enrollment = outline.enrollment
        if enrollment is None or enrollment.status == "withdrawn":
            raise NotFound("No such course among your enrolments")
        user_id = self.principal.user_id
        async with self._tx() as session:
            events = list(
                await session.scalars(
                    select(ProgressEvent)
                    .where(ProgressEvent.stream_id == enrollment.id)
                    .order_by(ProgressEvent.version)
                )
            )
            items = [item for module in outline.modules for item in module.items]
            gates = await unmet_requirements(session, user_id, [item.id for item in items])
            pathway = pathway_of(outline, completed_items(events), gates)
            titles = {item.id: item.title for item in items}
            weak = await weak_competencies(session, user_id, course_id, events, titles)
            due = await due_reviews(session, user_id, course_id)
            keys = await self._recent_question_keys(session, course_id)
        open_items = any(not p.done and not p.locked for p in pathway)
        asked = await self._asked(keys, course_id) if open_items else []
        picks = recommend(pathway, weak, due, asked)
        RECOMMENDATION_LATENCY.labels("next").observe(time.perf_counter() - started)
        return NextItems(items=[NextItem(item_id=p.item_id, title=p.title, reason=p.reason) for p in picks])

    async def _recent_question_keys(self, session: AsyncSession, course_id: UUID) -> list[str]:
        """Object keys of the caller's last answered tutor turns in the course, newest first."""
        rows = await session.scalars(
            select(AIInteraction.object_key)
            .where(
                AIInteraction.user_id == self.principal.user_id,
                AIInteraction.course_id == course_id,
                AIInteraction.purpose == "tutor",
                # Only answered turns: a blocked message (an injection, personal data) says nothing to rank.
                AIInteraction.status == "completed",
            )
            .order_by(AIInteraction.created_at.desc())
            .limit(RECENT_QUESTIONS)
        )
        return list(rows)

    async def _asked(self, keys: list[str], course_id: UUID) -> list[AskedQuestion]:
        """The recent questions (read from the object store), each with the course's items that answer it:
        the search ranking's first few, kept only when the words matched too (not the vector alone, which
        ranks something first for any question at all)."""
        asked: list[AskedQuestion] = []
        seen: set[str] = set()
        for key in keys:
            question = await self._question(key)
            if not question or question.casefold() in seen:
                continue
            seen.add(question.casefold())
            ranked = await self.search.rank(question, [course_id])
            answers = tuple(r.item_id for r in ranked[:QUESTION_MATCH_DEPTH] if "text" in r.ranks)
            if answers:
                asked.append(AskedQuestion(question=question, item_ids=answers))
        return asked

    async def _question(self, key: str) -> str:
        try:
            content = msgspec.json.decode(await self.objects.get(key))
        except (OSError, msgspec.DecodeError) as exc:  # a missing transcript costs one signal, not the answer
            log.warning("recommendation_question_unreadable", error=type(exc).__name__)
            return ""
        text = content.get("user", "") if isinstance(content, dict) else ""
        return " ".join(str(text).split())[:MAX_QUERY_CHARS]

    async def related(self, item_id: UUID, limit: int = RELATED_LIMIT) -> RelatedItems:
        """Items of the caller's enrolled courses closest in meaning to ``item_id`` (itself excluded). An
        unknown item, another org's, or one in a course the caller is not enrolled in: 404."""
        started = time.perf_counter()
        courses = await self.search.enrolled_courses()
        async with self._tx() as session:
            item = (await session.execute(select(Item.title, Item.course_id).where(Item.id == item_id))).first()
            if item is None or item.course_id not in courses:
                raise NotFound("No such item in your courses")
            passage = (
                await session.execute(
                    select(ContentChunk.heading, ContentChunk.content)
                    .where(ContentChunk.item_id == item_id, ContentChunk.source != "module")
                    .order_by(ContentChunk.position)
                    .limit(1)
                )
            ).first()
        query = " ".join(" ".join(part.split()) for part in (item.title, *(passage or ())) if part)[
            :RELATED_QUERY_CHARS
        ]
        ranked = [r for r in await self.search.rank(query, courses) if r.item_id != item_id][:limit]
        async with self._tx() as session:
            titles = dict(
                (await session.execute(select(Item.id, Item.title).where(Item.id.in_([r.item_id for r in ranked]))))
                .tuples()
                .all()
            )
        RECOMMENDATION_LATENCY.labels("related").observe(time.perf_counter() - started)
        return RelatedItems(
            items=[
                RelatedItem(item_id=r.item_id, course_id=r.course_id, title=titles[r.item_id], score=round(r.score, 6))
                for r in ranked
                if r.item_id in titles
            ]
        )
