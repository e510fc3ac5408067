"""Which arm of which running experiment a learner is in: deterministic by user, no state stored. It lives
with the tutor, which asks it on every turn; the experiments package (its admin API and results) builds on it.

For a tutor turn in course C of org O, the running experiment targeting C wins over a running org-wide one.
The learner's bucket is the first 8 bytes of sha256("{experiment_id}:{user_id}") modulo 10,000; they are in
the rollout iff bucket < rollout_percent · 100, so raising the percentage only adds learners (nobody who was
in leaves, nobody is reshuffled). In the rollout the variant is chosen by weight with
sha256("{experiment_id}:variant:{user_id}") (the scheme of ``assign_version``); outside it the learner is in
the arm "control": the tutor's normal behaviour exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Experiment

BUCKETS = 10_000
CONTROL = "control"


@dataclass(frozen=True, slots=True)
class ArmSpec:
    key: str
    prompt_version: str | None
    hint_policy: str  # "ladder" | "attempt_first"
    weight: int


@dataclass(frozen=True, slots=True)
class RunningExperiment:
    """A running experiment as plain values (cached per org by the tutor, like the prompt overrides)."""

    id: UUID
    course_id: UUID | None
    rollout_percent: int
    variants: tuple[ArmSpec, ...]


@dataclass(frozen=True, slots=True)
class Assignment:
    """The arm a learner's turn is in. ``prompt_version`` None: the normal version assignment."""

    experiment_id: UUID
    variant: str
    prompt_version: str | None = None
    hint_policy: str = "ladder"

    @property
    def is_control(self) -> bool:
        return self.variant == CONTROL


def _point(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def bucket(experiment_id: UUID, user_id: UUID) -> int:
    """The learner's bucket in the experiment, 0..9999."""
    return _point(f"{experiment_id}:{user_id}") % BUCKETS


def in_rollout(experiment_id: UUID, user_id: UUID, rollout_percent: int) -> bool:
    return bucket(experiment_id, user_id) < rollout_percent * (BUCKETS // 100)


def choose_variant(experiment_id: UUID, user_id: UUID, variants: Sequence[ArmSpec]) -> ArmSpec:
    """A variant, with probability proportional to its weight, the same one every time for the learner."""
    total = sum(v.weight for v in variants)
    point = _point(f"{experiment_id}:variant:{user_id}") % total
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]  # unreachable: the weights sum to total


def covering(experiments: Sequence[RunningExperiment], course_id: UUID | None) -> RunningExperiment | None:
    """The running experiment that applies to a turn in ``course_id``: the course's own, else the org-wide one."""
    if course_id is not None:
        for experiment in experiments:
            if experiment.course_id == course_id:
                return experiment
    return next((e for e in experiments if e.course_id is None), None)


def assign(experiments: Sequence[RunningExperiment], course_id: UUID | None, user_id: UUID) -> Assignment | None:
    """The learner's arm for a turn in ``course_id``, or None when no running experiment covers it."""
    experiment = covering(experiments, course_id)
    if experiment is None:
        return None
    if not experiment.variants or not in_rollout(experiment.id, user_id, experiment.rollout_percent):
        return Assignment(experiment.id, CONTROL)
    chosen = choose_variant(experiment.id, user_id, experiment.variants)
    return Assignment(experiment.id, chosen.key, chosen.prompt_version, chosen.hint_policy)


def arm_specs(variants: Sequence[dict[str, object]]) -> tuple[ArmSpec, ...]:
    """The stored ``variants`` JSON as plain values (validated on the way in by the API)."""
    return tuple(
        ArmSpec(
            key=str(v["key"]),
            prompt_version=str(v["prompt_version"]) if v.get("prompt_version") else None,
            hint_policy=str(v.get("hint_policy") or "ladder"),
            weight=max(1, int(v.get("weight") or 1)),  # type: ignore[call-overload]
        )
        for v in variants
    )


async def running_experiments(session: AsyncSession, prompt: str) -> tuple[RunningExperiment, ...]:
    """The org's running experiments on ``prompt`` (the session's tenant; RLS), as plain values to cache."""
    rows = await session.execute(
        select(Experiment.id, Experiment.course_id, Experiment.rollout_percent, Experiment.variants).where(
            Experiment.status == "running", Experiment.prompt == prompt
        )
    )
    return tuple(
        RunningExperiment(id=eid, course_id=course_id, rollout_percent=rollout, variants=arm_specs(variants or []))
        for eid, course_id, rollout, variants in rows
    )
