from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from app.domain.spaced.bank import QuestionKind
from app.domain.spaced.scheduling import RatingName


class ReviewQuestion(msgspec.Struct):
    """A question to answer, without its answer or explanation (those come back with the answer).
    ``multiple_choice``: send ``choice`` (0-based option index); ``self_rated``: think of your answer,
    compare it with ``guidance`` (what a good answer covers: the rubric's criteria, which the assessment
    page shows learners too; empty for multiple choice) and send your ``rating``."""

    ref: str
    kind: QuestionKind
    prompt: str
    options: list[str]
    source_item_id: UUID
    source_title: str
    guidance: str = ""


class ReviewDue(msgspec.Struct):
    """One due review (an item of ``GET /v1/me/reviews/due``): a competency's card and the question it asks."""

    card_id: UUID
    course_id: UUID
    course_title: str
    competency_id: UUID
    competency_name: str
    due_at: datetime
    reps: int
    question: ReviewQuestion


class ReviewAnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    """``choice`` for a multiple-choice question (its rating follows: right is good, wrong is again);
    ``rating`` for a self-rated one."""

    question_ref: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    choice: Annotated[int, msgspec.Meta(ge=0, le=64)] | None = None
    rating: RatingName | None = None


class ReviewAnswerOut(msgspec.Struct):
    """What the answer did: correctness and the explanation (multiple choice), the rating FSRS was given
    and the card's next due time."""

    card_id: UUID
    question_ref: str
    rating: RatingName
    correct: bool | None
    answer: int | None
    explanation: str
    due_at: datetime
    reps: int
    answered_at: datetime


class ReviewSummary(msgspec.Struct):
    """The caller's review workload: ``due`` now (live), the next due time when nothing is due, and the
    daily job's snapshot for today (``planned_today``: cards due by the end of the UTC day when it ran;
    null until it has run today)."""

    due: int
    next_due_at: datetime | None
    planned_today: int | None
    computed_at: datetime | None


class DueCountReport(msgspec.Struct):
    """What one run of ``precompute_review_due`` wrote."""

    day: str
    orgs: int
    learners: int
    due_now: int
    status: Literal["ok"] = "ok"
