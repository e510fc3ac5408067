"""Spaced review: cards opened when an assessment passes, the due listing with its questions, answers
that reschedule, and the daily due counts (issue 12 §7). The rule is in ``scheduling.py``, the question
bank in ``bank.py``; docs/adaptive.md "Spaced review" tells the whole story."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import exists, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db.engine import Database
from app.db.models import Assessment, Competency, Course, Item, ItemCompetency, ReviewCard, ReviewDueCount, ReviewLog
from app.domain.base import TenantService
from app.domain.spaced.bank import REVIEWABLE_KINDS, BankQuestion, BankRow, bank_of, find, pick
from app.domain.spaced.scheduling import RATING_NAMES, RATINGS, RatingName, ReviewScheduler
from app.domain.spaced.schemas import (
    DueCountReport,
    ReviewAnswerIn,
    ReviewAnswerOut,
    ReviewDue,
    ReviewQuestion,
    ReviewSummary,
)
from app.lib.errors import NotFound, ValidationFailed
from app.lib.pagination import fetch_page, paginated


def utc_now() -> datetime:
    return datetime.now(UTC)


def _reviewable(competency_id: object) -> object:
    """An assessment of a reviewable kind covers the competency (so its bank is not empty). Its own alias
    of item_competencies, so it never correlates with an outer query on that table."""
    covers = aliased(ItemCompetency)
    return exists().where(
        covers.competency_id == competency_id,
        Assessment.item_id == covers.item_id,
        Assessment.kind.in_(REVIEWABLE_KINDS),
    )


async def due_competencies(
    session: AsyncSession, user_id: UUID, course_id: UUID, now: datetime | None = None
) -> list[tuple[UUID, str, datetime]]:
    """(competency id, name, due time) of the user's cards in ``course_id`` that are due, earliest first:
    the cards ``GET /v1/me/reviews/due`` lists for that course (only those with review questions)."""
    rows = await session.execute(
        select(ReviewCard.competency_id, Competency.name, ReviewCard.due_at)
        .join(Competency, Competency.id == ReviewCard.competency_id)
        .where(
            ReviewCard.user_id == user_id,
            ReviewCard.course_id == course_id,
            ReviewCard.due_at <= (now or utc_now()),
            _reviewable(ReviewCard.competency_id),  # type: ignore[arg-type]
        )
        .order_by(ReviewCard.due_at, ReviewCard.competency_id)
    )
    return [(competency_id, name, due_at) for competency_id, name, due_at in rows]


async def open_review_cards(
    session: AsyncSession,
    *,
    org_id: UUID,
    user_id: UUID,
    course_id: UUID,
    item_id: UUID,
    passed_at: datetime,
    scheduler: ReviewScheduler | None = None,
) -> int:
    """The scheduler hook: an assessment ``item_id`` passed. Opens a card (first review: Good at
    ``passed_at``) for each competency the item covers that has review questions. One card per learner x
    competency: a competency that already has one keeps it (a retake, another assessment of the same
    competency or a reviewer's later override never resets a schedule). Returns how many were opened.
    Runs in the caller's transaction (the grade's), so a rolled-back grade opens nothing."""
    scheduler = scheduler or ReviewScheduler()
    competencies = (
        await session.scalars(
            select(ItemCompetency.competency_id)
            .where(ItemCompetency.item_id == item_id, _reviewable(ItemCompetency.competency_id))  # type: ignore[arg-type]
            .order_by(ItemCompetency.competency_id)
        )
    ).all()
    opened = 0
    for competency_id in competencies:
        card_id = uuid.uuid4()
        first = scheduler.open(card_id, passed_at)
        now = utc_now()
        created = await session.scalar(
            insert(ReviewCard)
            .values(
                id=card_id,
                org_id=org_id,
                user_id=user_id,
                course_id=course_id,
                competency_id=competency_id,
                source_item_id=item_id,
                fsrs=first.state,
                due_at=first.due_at,
                last_review_at=first.last_review_at,
                reps=0,
                lapses=0,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "competency_id"])
            .returning(ReviewCard.id)
        )
        opened += created is not None
    return opened


async def question_banks(session: AsyncSession, competency_ids: Iterable[UUID]) -> dict[UUID, list[BankQuestion]]:
    """Each competency's review questions (its course's multiple-choice and short-answer assessments)."""
    ids = sorted(set(competency_ids))
    if not ids:
        return {}
    rows = (
        await session.execute(
            select(ItemCompetency.competency_id, Item.id, Item.slug, Item.title, Assessment.kind, Assessment.spec)
            .join(Item, Item.id == ItemCompetency.item_id)
            .join(Assessment, Assessment.item_id == Item.id)
            .where(ItemCompetency.competency_id.in_(ids), Assessment.kind.in_(REVIEWABLE_KINDS))
        )
    ).all()
    grouped: dict[UUID, list[BankRow]] = {competency_id: [] for competency_id in ids}
    for competency_id, item_id, slug, title, kind, spec in rows:
        grouped[competency_id].append(BankRow(item_id, slug, title, kind, spec or {}))
    return {competency_id: bank_of(bank) for competency_id, bank in grouped.items()}


def _question(q: BankQuestion) -> ReviewQuestion:
    """What the learner sees before answering: no answer key, no explanation."""
    return ReviewQuestion(
        ref=q.ref,
        kind=q.kind,
        prompt=q.prompt,
        options=list(q.options),
        source_item_id=q.item_id,
        source_title=q.item_title,
        # A self-rated question's "answer" is the rubric's criteria, already on the assessment page.
        guidance=q.explanation if q.kind == "self_rated" else "",
    )


@dataclass(eq=False, repr=False, kw_only=True)
class ReviewService(TenantService):
    """The caller's own review cards: what is due, answering, the workload summary."""

    scheduler: ReviewScheduler = field(default_factory=ReviewScheduler)
    clock: Callable[[], datetime] = utc_now

    def _mine(self) -> object:
        return ReviewCard.user_id == self.principal.user_id

    async def due(self, page: LimitOffset) -> OffsetPagination[ReviewDue]:
        """Cards due now (oldest due first), each with the question it asks next."""
        now = self.clock()
        query = (
            select(ReviewCard, Course.title, Competency.name)
            .join(Course, Course.id == ReviewCard.course_id)
            .join(Competency, Competency.id == ReviewCard.competency_id)
            .where(self._mine(), ReviewCard.due_at <= now, _reviewable(ReviewCard.competency_id))  # type: ignore[arg-type]
            .order_by(ReviewCard.due_at, ReviewCard.id)
        )
        async with self._tx() as session:
            rows, result = await fetch_page(session, query, page)
            banks = await question_banks(session, (card.competency_id for card, _, _ in rows))
        items = []
        for card, course_title, competency_name in rows:
            question = pick(banks.get(card.competency_id, []), card.reps)
            assert question is not None  # the query keeps cards whose bank has questions
            items.append(
                ReviewDue(
                    card_id=card.id,
                    course_id=card.course_id,
                    course_title=course_title,
                    competency_id=card.competency_id,
                    competency_name=competency_name,
                    due_at=card.due_at,
                    reps=card.reps,
                    question=_question(question),
                )
            )
        return paginated(items, result)

    async def summary(self) -> ReviewSummary:
        now = self.clock()
        async with self._tx() as session:
            reviewable = _reviewable(ReviewCard.competency_id)
            due = await session.scalar(
                select(func.count()).where(self._mine(), ReviewCard.due_at <= now, reviewable)  # type: ignore[arg-type]
            )
            next_due = await session.scalar(
                select(func.min(ReviewCard.due_at)).where(self._mine(), ReviewCard.due_at > now, reviewable)  # type: ignore[arg-type]
            )
            snapshot = await session.scalar(
                select(ReviewDueCount).where(
                    ReviewDueCount.user_id == self.principal.user_id, ReviewDueCount.day == now.date()
                )
            )
        return ReviewSummary(
            due=int(due or 0),
            next_due_at=next_due,
            planned_today=snapshot.due_today if snapshot else None,
            computed_at=snapshot.computed_at if snapshot else None,
        )

    async def answer(self, card_id: UUID, data: ReviewAnswerIn, idempotency_key: str | None) -> ReviewAnswerOut:
        """Grade the answer (multiple choice) or take the learner's rating (self-rated), log it and
        reschedule the card with FSRS. The same ``Idempotency-Key`` on the same card returns the first
        answer's outcome and reviews nothing (the card row is locked, so concurrent replays serialise)."""
        if data.choice is not None and data.rating is not None:
            raise ValidationFailed(
                "Send either choice or rating, not both",
                errors=[{"pointer": "#/rating", "detail": "not with choice"}],
            )
        now = self.clock()
        async with self._tx() as session:
            card = await session.scalar(
                select(ReviewCard).where(ReviewCard.id == card_id, self._mine()).with_for_update()  # type: ignore[arg-type]
            )
            if card is None:
                raise NotFound("No such review card")
            bank = (await question_banks(session, [card.competency_id])).get(card.competency_id, [])
            if idempotency_key:
                earlier = await session.scalar(
                    select(ReviewLog).where(ReviewLog.card_id == card.id, ReviewLog.idempotency_key == idempotency_key)
                )
                if earlier is not None:
                    return self._replay(earlier, find(bank, earlier.question_ref), card.reps)
            question = find(bank, data.question_ref)
            if question is None:
                raise ValidationFailed(
                    "question_ref is not a review question of this card",
                    errors=[{"pointer": "#/question_ref", "detail": "unknown question"}],
                )
            rating, correct = self._rate(question, data)
            due_before = card.due_at
            scheduled = self.scheduler.review(card.fsrs, rating, now)
            card.fsrs, card.due_at, card.last_review_at = scheduled.state, scheduled.due_at, now
            card.reps += 1
            card.lapses += rating == "again"
            session.add(
                ReviewLog(
                    org_id=card.org_id,
                    card_id=card.id,
                    user_id=card.user_id,
                    question_ref=question.ref,
                    choice=data.choice,
                    correct=correct,
                    rating=int(RATINGS[rating]),
                    answered_at=now,
                    due_before=due_before,
                    due_after=scheduled.due_at,
                    idempotency_key=idempotency_key,
                )
            )
        return ReviewAnswerOut(
            card_id=card.id,
            question_ref=question.ref,
            rating=rating,
            correct=correct,
            answer=question.answer,
            explanation=question.explanation,
            due_at=scheduled.due_at,
            reps=card.reps,
            answered_at=now,
        )

    @staticmethod
    def _rate(question: BankQuestion, data: ReviewAnswerIn) -> tuple[RatingName, bool | None]:
        if question.kind == "multiple_choice":
            if data.choice is None:
                raise ValidationFailed(
                    "A multiple-choice question needs a choice",
                    errors=[{"pointer": "#/choice", "detail": "required for a multiple-choice question"}],
                )
            if data.rating is not None:
                raise ValidationFailed(
                    "The answer key rates a multiple-choice answer: send choice only",
                    errors=[{"pointer": "#/rating", "detail": "not for a multiple-choice question"}],
                )
            if data.choice >= len(question.options):
                raise ValidationFailed(
                    f"choice must be between 0 and {len(question.options) - 1}",
                    errors=[{"pointer": "#/choice", "detail": "no such option"}],
                )
            correct = data.choice == question.answer
            return ("good" if correct else "again"), correct
        if data.rating is None or data.choice is not None:
            raise ValidationFailed(
                "A self-rated question needs a rating (again, hard, good or easy) and no choice",
                errors=[{"pointer": "#/rating", "detail": "required for a self-rated question"}],
            )
        return data.rating, None

    @staticmethod
    def _replay(log: ReviewLog, question: BankQuestion | None, reps: int) -> ReviewAnswerOut:
        return ReviewAnswerOut(
            card_id=log.card_id,
            question_ref=log.question_ref,
            rating=RATING_NAMES[log.rating],
            correct=log.correct,
            answer=question.answer if question else None,
            explanation=question.explanation if question else "",
            due_at=log.due_after,
            reps=reps,
            answered_at=log.answered_at,
        )


def end_of_day(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)


class DueCounter:
    """The daily ``precompute_review_due`` job's service: every learner's due counts for the UTC day, a
    row per learner and day in ``review_due_counts`` (a re-run the same day overwrites it). Runs without
    a principal: it lists the orgs that have cards (``lyceum_review_orgs()``, a definer function that
    reveals ids only) and then works inside each org's RLS scope."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def precompute(self, now: datetime | None = None) -> DueCountReport:
        now = (now or utc_now()).astimezone(UTC)
        day: date = now.date()
        async with self.db.transaction(None) as session:
            orgs = (await session.scalars(text("select org_id from lyceum_review_orgs() order by org_id"))).all()
        learners = due_now = 0
        for org_id in orgs:
            async with self.db.transaction(org_id) as session:
                rows = (
                    await session.execute(
                        select(
                            ReviewCard.user_id,
                            func.count().filter(ReviewCard.due_at <= now),
                            func.count().filter(ReviewCard.due_at < end_of_day(now)),
                            func.min(ReviewCard.due_at).filter(ReviewCard.due_at > now),
                        )
                        .where(_reviewable(ReviewCard.competency_id))  # type: ignore[arg-type]
                        .group_by(ReviewCard.user_id)
                        .order_by(ReviewCard.user_id)
                    )
                ).all()
                for user_id, due, today, next_due in rows:
                    statement = insert(ReviewDueCount).values(
                        id=uuid.uuid4(),
                        org_id=org_id,
                        user_id=user_id,
                        day=day,
                        due_now=due,
                        due_today=today,
                        next_due_at=next_due,
                        computed_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    await session.execute(
                        statement.on_conflict_do_update(
                            index_elements=["org_id", "user_id", "day"],
                            set_={
                                key: statement.excluded[key]
                                for key in ("due_now", "due_today", "next_due_at", "computed_at", "updated_at")
                            },
                        )
                    )
                    learners += 1
                    due_now += due
        return DueCountReport(day=day.isoformat(), orgs=len(orgs), learners=learners, due_now=due_now)
