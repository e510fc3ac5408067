"""The mastery projection: progress events -> ``mastery_estimates`` (+ a checkpoint per stream).

One fold, used twice: inline, in the transaction that appends an evidence event (so the projection is never
behind the ledger), and by ``lyceum projections rebuild``, which deletes the projection and folds every
stream again. The fold is a pure function of a stream's events and the course's parameters, and the rows it
writes take their ids and times from the events, so the rebuild reproduces the tables byte for byte.

Evidence (docs/adaptive.md "Mastery model"):

- ``assessment.graded`` (one per final grade; its idempotency key is the grade id, so a redelivered grade is
  never a second event): an observation, correct when the grade passed, on each competency of the
  assessment. A later grade of the same submission (a reviewer's override) replaces that attempt's
  observation instead of adding one: one attempt, one observation.
- ``item.completed`` of an exercise: a correct observation at half weight (``EXERCISE_WEIGHT``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    Competency,
    Enrollment,
    Item,
    ItemCompetency,
    MasteryEstimate,
    ProgressEvent,
    ProjectionCheckpoint,
)
from app.domain.mastery.bkt import EXERCISE_WEIGHT, BKTParams, update

PROJECTION = "mastery"
EVIDENCE_EVENTS = ("assessment.graded", "item.completed")
# Ids of projection rows are derived, not random: uuid5 of this namespace and the row's natural key.
_NAMESPACE = UUID("6a3c1e0e-4d3b-5b8e-9f51-1d0f6c2b7a10")


class StreamEvent(Protocol):
    """What the fold reads of a ``progress_events`` row (an ORM row or a Core row alike)."""

    @property
    def version(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class CourseModel:
    """A course as the fold needs it: each competency's parameters, each item's competencies (for events
    written before payloads carried them)."""

    params: Mapping[UUID, BKTParams]
    item_competencies: Mapping[UUID, tuple[UUID, ...]]


@dataclass(slots=True)
class _Observation:
    competencies: tuple[UUID, ...]
    correct: bool
    weight: float


@dataclass(frozen=True, slots=True)
class Estimate:
    mastery: float
    attempts: int
    first_evidence_at: datetime
    last_evidence_at: datetime


@dataclass(frozen=True, slots=True)
class StreamFold:
    estimates: dict[UUID, Estimate]
    first_version: int  # of the first evidence event; 0 when the stream has none
    last_version: int
    first_at: datetime | None
    last_at: datetime | None


def is_evidence(event_type: str, payload: Mapping[str, Any]) -> bool:
    return event_type == "assessment.graded" or (event_type == "item.completed" and payload.get("kind") == "exercise")


def _competencies(payload: Mapping[str, Any], model: CourseModel) -> tuple[UUID, ...]:
    listed = payload.get("competencies")
    if isinstance(listed, list):
        ids = tuple(UUID(c) for c in listed if isinstance(c, str))
    else:
        item_id = payload.get("item_id")
        ids = model.item_competencies.get(UUID(item_id), ()) if isinstance(item_id, str) else ()
    return tuple(c for c in ids if c in model.params)  # a competency removed from the course is skipped


def _passed(payload: Mapping[str, Any]) -> bool:
    passed = payload.get("passed")
    if isinstance(passed, bool):
        return passed
    # Events written before the payload carried ``passed``: the default pass mark.
    score, max_score = payload.get("score"), payload.get("max_score")
    return (
        isinstance(score, int | float)
        and isinstance(max_score, int | float)
        and max_score > 0
        and score / max_score >= 0.7
    )


def fold_stream(events: Iterable[StreamEvent], model: CourseModel) -> StreamFold:
    """A stream's events (in version order) -> an estimate per competency with evidence."""
    observations: list[_Observation] = []
    by_submission: dict[str, _Observation] = {}
    times: dict[UUID, list[datetime]] = {}
    first_version = last_version = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    for event in events:
        payload = event.payload
        if not is_evidence(event.type, payload):
            continue
        first_version = first_version or event.version
        last_version, last_at = event.version, event.created_at
        first_at = first_at or event.created_at
        competencies = _competencies(payload, model)
        if event.type == "item.completed":
            observations.append(_Observation(competencies, True, EXERCISE_WEIGHT))
        else:
            submission = payload.get("submission_id")
            earlier = by_submission.get(submission) if isinstance(submission, str) else None
            if earlier is not None:
                earlier.correct = _passed(payload)  # a regrade of the same attempt replaces its outcome
            else:
                observation = _Observation(competencies, _passed(payload), 1.0)
                observations.append(observation)
                if isinstance(submission, str):
                    by_submission[submission] = observation
        for competency in competencies:
            times.setdefault(competency, []).append(event.created_at)
    state: dict[UUID, float] = {}
    attempts: dict[UUID, int] = {}
    for observation in observations:
        for competency in observation.competencies:
            params = model.params[competency]
            state[competency] = update(
                state.get(competency, params.prior), observation.correct, params, observation.weight
            )
            attempts[competency] = attempts.get(competency, 0) + 1
    estimates = {
        c: Estimate(
            mastery=state[c], attempts=attempts[c], first_evidence_at=times[c][0], last_evidence_at=times[c][-1]
        )
        for c in state
    }
    return StreamFold(estimates, first_version, last_version, first_at, last_at)


def estimate_rows(org_id: UUID, user_id: UUID, course_id: UUID, fold: StreamFold) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid5(_NAMESPACE, f"{user_id}:{competency_id}"),
            "org_id": org_id,
            "user_id": user_id,
            "course_id": course_id,
            "competency_id": competency_id,
            "mastery": e.mastery,
            "attempts": e.attempts,
            "last_evidence_at": e.last_evidence_at,
            "created_at": e.first_evidence_at,
            "updated_at": e.last_evidence_at,
        }
        for competency_id, e in sorted(fold.estimates.items())
    ]


def checkpoint_row(org_id: UUID, stream_id: UUID, fold: StreamFold) -> dict[str, Any] | None:
    if fold.first_at is None or fold.last_at is None:
        return None
    return {
        "id": uuid.uuid5(_NAMESPACE, f"{PROJECTION}:{stream_id}"),
        "org_id": org_id,
        "projection": PROJECTION,
        "stream_id": stream_id,
        "version": fold.last_version,
        "created_at": fold.first_at,
        "updated_at": fold.last_at,
    }


def _params(c: Any) -> BKTParams:
    return BKTParams(prior=c.bkt_prior, learn=c.bkt_learn, slip=c.bkt_slip, guess=c.bkt_guess)


async def course_models(session: AsyncSession, course_ids: Sequence[UUID]) -> dict[UUID, CourseModel]:
    """The fold's view of each course, in two queries."""
    params: dict[UUID, dict[UUID, BKTParams]] = {c: {} for c in course_ids}
    skills: dict[UUID, dict[UUID, list[UUID]]] = {c: {} for c in course_ids}
    for row in await session.execute(
        select(
            Competency.id,
            Competency.course_id,
            Competency.bkt_prior,
            Competency.bkt_learn,
            Competency.bkt_slip,
            Competency.bkt_guess,
        ).where(Competency.course_id.in_(course_ids))
    ):
        params[row.course_id][row.id] = _params(row)
    for course_id, item_id, competency_id in await session.execute(
        select(Item.course_id, ItemCompetency.item_id, ItemCompetency.competency_id)
        .join(Item, Item.id == ItemCompetency.item_id)
        .where(Item.course_id.in_(course_ids))
        .order_by(ItemCompetency.item_id, ItemCompetency.competency_id)
    ):
        skills[course_id].setdefault(item_id, []).append(competency_id)
    return {c: CourseModel(params[c], {i: tuple(cs) for i, cs in skills[c].items()}) for c in course_ids}


async def write_stream(
    session: AsyncSession, enrollment: Enrollment, events: Sequence[StreamEvent], model: CourseModel
) -> None:
    """Replace one stream's part of the projection with a fresh fold of its events."""
    fold = fold_stream(events, model)
    await session.execute(
        delete(MasteryEstimate).where(
            MasteryEstimate.user_id == enrollment.user_id, MasteryEstimate.course_id == enrollment.course_id
        )
    )
    rows = estimate_rows(enrollment.org_id, enrollment.user_id, enrollment.course_id, fold)
    if rows:
        await session.execute(insert(MasteryEstimate), rows)
    checkpoint = checkpoint_row(enrollment.org_id, enrollment.id, fold)
    if checkpoint is not None:
        statement = insert(ProjectionCheckpoint).values(checkpoint)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["projection", "stream_id"],
                set_={k: statement.excluded[k] for k in ("version", "created_at", "updated_at")},
            )
        )


async def project_event(session: AsyncSession, enrollment: Enrollment, event: ProgressEvent) -> None:
    """Inline projector, called where a progress event is appended (same transaction, the enrollment row
    locked): an evidence event refolds its stream. Anything else leaves the projection as it is."""
    if not is_evidence(event.type, event.payload):
        return
    events = list(
        await session.scalars(
            select(ProgressEvent).where(ProgressEvent.stream_id == enrollment.id).order_by(ProgressEvent.version)
        )
    )
    models = await course_models(session, [enrollment.course_id])
    await write_stream(session, enrollment, events, models[enrollment.course_id])
