"""The scheduling rule, on the ``fsrs`` library (FSRS-6, pinned in pyproject.toml); pure, no I/O.

- **Opening a card.** Passing an assessment is the card's first review, rated Good, at the moment the
  learner *submitted* (when they recalled it, not when a grader or reviewer got to it). The scheduler
  has no learning steps: the assessment was the learning, so the card goes straight to FSRS's Review
  state with the initial stability for Good (about 2.3 days at 90% retention: due two days later).
- **Reviewing.** Each answer is one FSRS review at the answer's time with the learner's rating; Again
  lapses it into relearning (a 10-minute step), the others stretch the interval.
- **Determinism.** Fuzzing is off and ``Card`` always gets an explicit ``card_id`` (derived from the
  row's UUID; without one the library reads the clock and sleeps), so a fixed clock gives fixed dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from fsrs import Card, Rating, Scheduler

RatingName = Literal["again", "hard", "good", "easy"]
RATINGS: dict[RatingName, Rating] = {
    "again": Rating.Again,
    "hard": Rating.Hard,
    "good": Rating.Good,
    "easy": Rating.Easy,
}
RATING_NAMES: dict[int, RatingName] = {int(rating): name for name, rating in RATINGS.items()}
PASS_RATING = Rating.Good
RELEARNING_STEP = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A card's FSRS state after a review, and the fields mirrored onto its row."""

    state: dict[str, Any]
    due_at: datetime
    last_review_at: datetime


def card_number(card_uuid: UUID) -> int:
    """The ``fsrs.Card.card_id`` for a card row: its UUID's top 62 bits (a stable, positive int64)."""
    return card_uuid.int >> 66


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("review times must be timezone-aware (UTC)")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ReviewScheduler:
    """FSRS with the platform's settings; ``desired_retention`` is LYCEUM_REVIEW_DESIRED_RETENTION."""

    desired_retention: float = 0.9

    def _fsrs(self) -> Scheduler:
        return Scheduler(
            desired_retention=self.desired_retention,
            learning_steps=(),
            relearning_steps=(RELEARNING_STEP,),
            enable_fuzzing=False,
        )

    def _scheduled(self, card: Card, at: datetime) -> Scheduled:
        return Scheduled(state=dict(card.to_dict()), due_at=_aware(card.due), last_review_at=at)

    def open(self, card_uuid: UUID, passed_at: datetime) -> Scheduled:
        """A new card for a competency just passed: the pass is its first review, rated Good."""
        at = _aware(passed_at)
        card, _ = self._fsrs().review_card(Card(card_id=card_number(card_uuid), due=at), PASS_RATING, at)
        return self._scheduled(card, at)

    def review(self, state: dict[str, Any], rating: RatingName, answered_at: datetime) -> Scheduled:
        """One answer: ``state`` (``Card.to_dict()``) reviewed with ``rating`` at ``answered_at``."""
        at = _aware(answered_at)
        card, _ = self._fsrs().review_card(Card.from_dict(state), RATINGS[rating], at)  # type: ignore[arg-type]
        return self._scheduled(card, at)
