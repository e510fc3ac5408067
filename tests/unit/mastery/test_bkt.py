"""Bayesian Knowledge Tracing (app/domain/mastery/bkt.py) against values worked by hand, and the fold of a
stream into estimates (app/domain/mastery/projector.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.mastery.bkt import EXERCISE_WEIGHT, BKTParams, learn, posterior, update
from app.domain.mastery.projector import CourseModel, checkpoint_row, estimate_rows, fold_stream

P = BKTParams(prior=0.2, learn=0.15, slip=0.1, guess=0.2)


def test_posterior_after_a_right_answer() -> None:
    # 0.2 * 0.9 / (0.2 * 0.9 + 0.8 * 0.2) = 0.18 / 0.34
    assert posterior(0.2, True, P) == pytest.approx(0.18 / 0.34)


def test_posterior_after_a_wrong_answer() -> None:
    # 0.2 * 0.1 / (0.2 * 0.1 + 0.8 * 0.8) = 0.02 / 0.66
    assert posterior(0.2, False, P) == pytest.approx(0.02 / 0.66)


def test_learning_step() -> None:
    assert learn(0.5, P) == pytest.approx(0.5 + 0.5 * 0.15)


def test_update_is_posterior_then_learning() -> None:
    assert update(0.2, True, P) == pytest.approx(0.18 / 0.34 + (1 - 0.18 / 0.34) * 0.15)  # 0.6
    assert update(0.2, True, P) == pytest.approx(0.6)
    assert update(0.2, False, P) == pytest.approx(0.02 / 0.66 + (1 - 0.02 / 0.66) * 0.15)


def test_exercise_moves_half_as_far() -> None:
    full = posterior(0.2, True, P)
    assert update(0.2, True, P, EXERCISE_WEIGHT) == pytest.approx(learn(0.2 + 0.5 * (full - 0.2), P))


def test_a_run_of_right_answers_converges_towards_one() -> None:
    p = P.prior
    for _ in range(20):
        p = update(p, True, P)
    assert 0.99 < p < 1.0


@pytest.mark.parametrize("kwargs", [{"slip": 0.5}, {"guess": 0.6}, {"prior": 1.2}, {"learn": -0.1}])
def test_parameters_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        BKTParams(**kwargs)


@dataclass
class Event:
    version: int
    type: str
    payload: dict[str, Any]
    created_at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))


def _stream(competency: uuid.UUID) -> list[Event]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    graded = {"competencies": [str(competency)], "submission_id": "s1", "passed": False}
    return [
        Event(1, "enrolled", {}, t0),
        Event(2, "item.completed", {"kind": "lesson", "competencies": [str(competency)]}, t0),  # not evidence
        Event(3, "item.completed", {"kind": "exercise", "competencies": [str(competency)]}, t0 + timedelta(1)),
        Event(4, "assessment.graded", graded, t0 + timedelta(2)),
        Event(5, "assessment.graded", {**graded, "passed": True}, t0 + timedelta(3)),  # override: same attempt
        Event(6, "course.completed", {}, t0 + timedelta(4)),
    ]


def test_fold_counts_evidence_and_replaces_a_regraded_attempt() -> None:
    competency = uuid.uuid4()
    model = CourseModel(params={competency: P}, item_competencies={})
    fold = fold_stream(_stream(competency), model)
    estimate = fold.estimates[competency]
    assert estimate.attempts == 2  # the exercise and one graded attempt (its override replaced the outcome)
    assert estimate.mastery == update(update(0.2, True, P, EXERCISE_WEIGHT), True, P)
    assert estimate.last_evidence_at == datetime(2026, 1, 4, tzinfo=UTC)
    assert (fold.first_version, fold.last_version) == (3, 5)


def test_fold_is_deterministic_and_rows_take_ids_and_times_from_events() -> None:
    competency, user, course, org, stream = (uuid.uuid4() for _ in range(5))
    model = CourseModel(params={competency: P}, item_competencies={})
    a, b = fold_stream(_stream(competency), model), fold_stream(_stream(competency), model)
    assert estimate_rows(org, user, course, a) == estimate_rows(org, user, course, b)
    assert checkpoint_row(org, stream, a) == checkpoint_row(org, stream, b)
    row = estimate_rows(org, user, course, a)[0]
    assert row["created_at"] == datetime(2026, 1, 2, tzinfo=UTC)
    assert row["updated_at"] == row["last_evidence_at"] == datetime(2026, 1, 4, tzinfo=UTC)


def test_competencies_come_from_the_course_when_the_payload_has_none() -> None:
    competency, item = uuid.uuid4(), uuid.uuid4()
    model = CourseModel(params={competency: P}, item_competencies={item: (competency,)})
    event = Event(1, "assessment.graded", {"item_id": str(item), "score": 8, "max_score": 10})
    fold = fold_stream([event], model)
    assert fold.estimates[competency].mastery == update(0.2, True, P)  # 8/10 passes the default 0.7


def test_unknown_competencies_are_skipped() -> None:
    model = CourseModel(params={}, item_competencies={})
    event = Event(1, "assessment.graded", {"competencies": [str(uuid.uuid4())], "passed": True})
    assert fold_stream([event], model).estimates == {}
