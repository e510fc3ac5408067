"""The spaced-review rule on FSRS with a fixed clock: no servers, no randomness, fixed dates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.spaced.bank import BankRow, bank_of, find, pick
from app.domain.spaced.scheduling import RATING_NAMES, RATINGS, ReviewScheduler, card_number

PASSED = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
CARD = uuid.UUID("6f1c1e0a-7b5d-4c1e-9a0f-3e2d1c0b9a87")


def test_a_pass_is_a_first_good_review_due_two_days_later() -> None:
    opened = ReviewScheduler().open(CARD, PASSED)
    assert opened.due_at == PASSED + timedelta(days=2)
    assert opened.last_review_at == PASSED
    assert opened.state["state"] == 2  # Review: no learning steps after an assessment
    assert opened.state["card_id"] == card_number(CARD)
    assert opened.state["stability"] == pytest.approx(2.3065)


def test_the_same_inputs_give_the_same_schedule() -> None:
    first = ReviewScheduler().open(CARD, PASSED)
    assert ReviewScheduler().open(CARD, PASSED) == first
    later = PASSED + timedelta(days=2)
    assert ReviewScheduler().review(first.state, "good", later) == ReviewScheduler().review(first.state, "good", later)


@pytest.mark.parametrize(
    ("rating", "interval"),
    [("again", timedelta(minutes=10)), ("hard", timedelta(days=9)), ("good", timedelta(days=14))],
)
def test_each_rating_reschedules_from_the_answer(rating: str, interval: timedelta) -> None:
    scheduler = ReviewScheduler()
    opened = scheduler.open(CARD, PASSED)
    answered = PASSED + timedelta(days=3)
    reviewed = scheduler.review(opened.state, rating, answered)  # type: ignore[arg-type]
    assert reviewed.due_at - answered == interval
    assert reviewed.last_review_at == answered
    assert reviewed.state["state"] == (3 if rating == "again" else 2)  # Again lapses into relearning


def test_easy_waits_longest() -> None:
    scheduler = ReviewScheduler()
    opened = scheduler.open(CARD, PASSED)
    answered = PASSED + timedelta(days=3)
    intervals = [scheduler.review(opened.state, r, answered).due_at for r in ("again", "hard", "good", "easy")]
    assert intervals == sorted(intervals)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ReviewScheduler().open(CARD, datetime(2026, 11, 27, 9, 30))


def test_card_numbers_are_stable_positive_int64() -> None:
    assert card_number(CARD) == card_number(uuid.UUID(str(CARD)))
    assert 0 < card_number(CARD) < 2**63
    assert card_number(CARD) != card_number(uuid.UUID(int=CARD.int ^ (1 << 127)))


def test_ratings_map_to_fsrs_both_ways() -> None:
    assert {name: int(rating) for name, rating in RATINGS.items()} == {"again": 1, "hard": 2, "good": 3, "easy": 4}
    assert all(RATING_NAMES[int(rating)] == name for name, rating in RATINGS.items())


QUIZ = BankRow(
    uuid.uuid4(),
    "quiz",
    "Quiz",
    "multiple_choice",
    {
        "questions": [
            {"prompt": "One?", "options": ["a", "b"], "answer": 1, "explanation": "b is one"},
            {"prompt": "Two?", "options": ["a", "b", "c"], "answer": 2},
        ]
    },
)
ESSAY = BankRow(
    uuid.uuid4(),
    "essay",
    "Essay",
    "short_answer",
    {"prompt": "Explain.", "rubric": {"criteria": [{"name": "Clarity", "description": "Says it plainly"}]}},
)
CODE = BankRow(uuid.uuid4(), "code", "Code", "code", {"prompt": "Write it", "hidden_tests": "assert True"})


def test_the_bank_is_ordered_and_rotates_with_reps() -> None:
    bank = bank_of([QUIZ, CODE, ESSAY])  # code tasks are not review material
    assert [q.ref for q in bank] == ["essay#prompt", "quiz#0", "quiz#1"]
    assert [pick(bank, reps).ref for reps in range(4)] == ["essay#prompt", "quiz#0", "quiz#1", "essay#prompt"]  # type: ignore[union-attr]
    assert pick([], 3) is None


def test_questions_carry_their_key_and_self_rated_ones_the_rubric() -> None:
    bank = bank_of([QUIZ, ESSAY])
    quiz = find(bank, "quiz#0")
    assert quiz is not None
    assert (quiz.kind, quiz.answer, quiz.explanation, quiz.options) == ("multiple_choice", 1, "b is one", ("a", "b"))
    essay = find(bank, "essay#prompt")
    assert essay is not None
    assert (essay.kind, essay.answer, essay.options) == ("self_rated", None, ())
    assert "Clarity: Says it plainly" in essay.explanation
    assert find(bank, "quiz#9") is None
