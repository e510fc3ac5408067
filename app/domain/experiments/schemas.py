"""Wire shapes of experiments: the experiment an admin creates and edits, and its results per arm."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$")]
PromptVersionName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
]
RolloutPercent = Annotated[int, msgspec.Meta(ge=0, le=100)]
Weight = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
# "ladder": one authored hint per request (the tutor's normal behaviour); "attempt_first": before the first
# hint of a conversation the tutor asks for the learner's own attempt.
HintPolicy = Literal["ladder", "attempt_first"]
ExperimentStatus = Literal["draft", "running", "stopped"]
ExperimentPrompt = Literal["tutor"]  # grading uses a fixed prompt: experiments are on the tutor's only
CONTROL = "control"  # the arm of covered learners outside the rollout: today's behaviour exactly
MAX_VARIANTS = 5


class Variant(msgspec.Struct, forbid_unknown_fields=True):
    """One arm of the experiment. ``prompt_version``: a version of the tutor prompt (from the prompt file or
    an active org override); null keeps the normal version assignment. ``hint_policy`` null = "ladder"."""

    key: Slug
    prompt_version: PromptVersionName | None = None
    hint_policy: HintPolicy | None = None
    weight: Weight = 1


Variants = Annotated[list[Variant], msgspec.Meta(min_length=1, max_length=MAX_VARIANTS)]


class ExperimentIn(msgspec.Struct, forbid_unknown_fields=True):
    key: Slug
    variants: Variants
    rollout_percent: RolloutPercent
    prompt: ExperimentPrompt = "tutor"
    description: Description = ""
    course_id: UUID | None = None  # null: every course of the org


class ExperimentUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Any of the fields. ``variants`` and ``course_id`` only while draft; ``rollout_percent`` also while
    running (raising it only adds learners); a stopped experiment is read-only. ``course_id`` null: org-wide."""

    description: Description | None = None
    rollout_percent: RolloutPercent | None = None
    variants: Variants | None = None
    course_id: UUID | msgspec.UnsetType | None = msgspec.UNSET


class ExperimentOut(msgspec.Struct):
    id: UUID
    key: str
    description: str
    prompt: str
    course_id: UUID | None
    course_title: str | None  # null when org-wide
    rollout_percent: int
    variants: list[Variant]
    status: ExperimentStatus
    started_at: datetime | None
    stopped_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Interval(msgspec.Struct):
    """A mean with its 95% confidence interval (null bounds below two observations)."""

    n: int
    mean: float
    low: float | None
    high: float | None


class Rate(msgspec.Struct):
    """A share ``count``/``n`` with its 95% Wilson score interval."""

    n: int
    count: int
    rate: float
    low: float
    high: float


class Arm(msgspec.Struct):
    variant: str  # "control" or a variant key
    users: int
    turns: int
    tokens_per_turn: Interval | None  # input + output tokens
    rating: Interval | None  # learner ratings 1-5, averaged per rated turn
    escalation_rate: Rate | None  # share of turns where the learner asked for a hint (mode "hint")
    guardrail_trigger_rate: Rate | None  # share of turns where any guardrail flagged or blocked


class ExperimentResults(msgspec.Struct):
    experiment_id: UUID
    status: ExperimentStatus
    arms: list[Arm]  # control first, then the variants in their order
    confidence: float = 0.95
